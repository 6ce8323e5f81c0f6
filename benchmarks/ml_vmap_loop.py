"""Per-example gradients: torch.func vmap(grad) (chunked) vs a Python loop of backward passes.

Digits MLP 64-128-128-10, batch 256, float32, one thread.  Both produce the same rows (checked);
the ratio loop/vmap is the speed-up.  Run: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
.venv/bin/python benchmarks/ml_vmap_loop.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
import torch.nn.functional as F

from crossnoise.ml.pergrad import per_example_grads, per_example_grads_loop
from crossnoise.ml.tasks import digits_mlp, load_digits, torch_generator
from timing import interleaved


def main():
    torch.set_num_threads(1)
    x, y = load_digits()
    model = digits_mlp(hidden=128, gen=torch_generator(0))
    xb, yb = x[:256], y[:256]
    fast = per_example_grads(model, F.cross_entropy, xb, yb, chunk_size=256, dtype=None)
    slow = per_example_grads_loop(model, F.cross_entropy, xb, yb)
    err = float((fast.double() - slow).abs().max() / slow.abs().max())
    for _ in range(3):  # warm-up (torch.func traces on first use)
        per_example_grads(model, F.cross_entropy, xb, yb, chunk_size=256, dtype=None)
    (t_vmap, m_vmap), (t_loop, m_loop) = interleaved(
        [lambda: per_example_grads(model, F.cross_entropy, xb, yb, chunk_size=256, dtype=None),
         lambda: per_example_grads_loop(model, F.cross_entropy, xb, yb)], 9)
    print(f"params {sum(p.numel() for p in model.parameters())}, batch 256, float32, 1 thread")
    print(f"max |vmap - loop| / max |loop| = {err:.2e}")
    print(f"vmap(grad) median {t_vmap * 1e3:.1f} ms; Python loop median {t_loop * 1e3:.1f} ms; "
          f"speed-up {t_loop / t_vmap:.1f}x (medians), {m_loop / m_vmap:.1f}x (minima)")


if __name__ == "__main__":
    main()
