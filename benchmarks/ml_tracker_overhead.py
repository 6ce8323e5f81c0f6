"""Overhead of noise-scale tracking as a fraction of one SGD training step (digits MLP).

A training step is: draw a batch of 256, zero grads, forward + backward, optimizer step.  Compared
side by side (interleaved repeats, median and minimum):
- plain ``loss.backward()``;
- :class:`crossnoise.ml.tracker.NoiseScaleTracker` (two-size estimator) measuring every step with
  k = 2 micro-batches, and measuring every 10th step (``every=10``);
- the per-example estimator (:func:`crossnoise.ml.noise_scale.gradient_noise_scale`) on the batch,
  every step (for scale).
Goal: the two-size tracker ≤ 10% overhead.
Run: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ml_tracker_overhead.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics
import time

import torch
import torch.nn.functional as F

from crossnoise.ml.noise_scale import gradient_noise_scale
from crossnoise.ml.tasks import digits_mlp, load_digits, torch_generator
from crossnoise.ml.tracker import NoiseScaleTracker

B = 256
STEPS = 20  # one timed unit = 20 training steps (every=10 measures twice, every=20 once)


def main():
    torch.set_num_threads(1)
    x, y = load_digits()
    model = digits_mlp(hidden=128, gen=torch_generator(0))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)

    def batch_loss(xb, yb):
        return F.cross_entropy(model(xb), yb)

    def run(kind, tracker=None):
        def unit():
            for _ in range(STEPS):
                idx = torch.randint(0, x.shape[0], (B,), generator=gen)
                opt.zero_grad(set_to_none=True)
                if kind == "plain":
                    batch_loss(x[idx], y[idx]).backward()
                elif kind == "tracker":
                    tracker.backward(batch_loss, x[idx], y[idx])
                else:
                    batch_loss(x[idx], y[idx]).backward()
                    gradient_noise_scale(model, F.cross_entropy, x[idx], y[idx])
                opt.step()
        return unit

    variants = {
        "plain step": run("plain"),
        "tracker every step (k=2)": run("tracker", NoiseScaleTracker(model, n_micro=2)),
        "tracker every 10th step (k=2)": run("tracker", NoiseScaleTracker(model, n_micro=2, every=10)),
        "tracker every 20th step (k=2)": run("tracker", NoiseScaleTracker(model, n_micro=2, every=20)),
        "tracker every step (k=4)": run("tracker", NoiseScaleTracker(model, n_micro=4)),
        "per-example B_simple every step": run("per-example"),
    }
    for f in variants.values():
        f()
    times = {k: [] for k in variants}
    for _ in range(15):
        for name, f in variants.items():
            t0 = time.perf_counter()
            f()
            times[name].append((time.perf_counter() - t0) / STEPS)
    base_med = statistics.median(times["plain step"])
    base_min = min(times["plain step"])
    print(f"digits MLP 64-128-128-10, batch {B}, SGD, 1 thread; per training step:")
    for name, t in times.items():
        med, mn = statistics.median(t), min(t)
        print(f"{name:34s} median {med * 1e3:7.2f} ms  min {mn * 1e3:7.2f} ms  "
              f"overhead {100 * (med / base_med - 1):+7.1f}% (medians)  {100 * (mn / base_min - 1):+7.1f}% (minima)")


if __name__ == "__main__":
    main()
