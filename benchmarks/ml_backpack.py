"""Per-example gradient variance: crossnoise (torch.func) vs BackPACK (Variance, BatchGrad), side by side.

Digits MLP 64-128-128-10, batch 256, float32, mean cross-entropy, one thread.  BackPACK is
installed with ``pip install --no-deps backpack-for-pytorch==1.7.1 einops unfoldNd`` (its own
requirements would replace torch).  With a mean loss BackPACK's ``grad_batch`` is g_i/N and its
``variance`` is the ddof-0 per-sample variance divided by N²; both are rescaled before comparing
with the per-example rows of :func:`crossnoise.ml.pergrad.per_example_grads`.

Timed (median and minimum of interleaved repeats): plain forward+backward; BackPACK Variance;
BackPACK BatchGrad; B_simple from one BackPACK Variance pass (no SE); ours: per-example rows +
E[g²] − E[g]² (float32, torch.func); ours: the full B_simple estimate with jackknife SEs
(:func:`crossnoise.ml.noise_scale.gradient_noise_scale`, which for this pure-Linear model uses the
one-backward layer identities of :mod:`crossnoise.ml.linear_norms`).
Run: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ml_backpack.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
import torch.nn.functional as F
from backpack import backpack, extend
from backpack.extensions import BatchGrad, Variance

from crossnoise.ml.noise_scale import gradient_noise_scale
from crossnoise.ml.pergrad import per_example_grads
from crossnoise.ml.tasks import digits_mlp, load_digits, torch_generator
from timing import interleaved


def main():
    torch.set_num_threads(1)
    x, y = load_digits()
    xb, yb = x[:256], y[:256]
    n = xb.shape[0]
    ours = digits_mlp(hidden=128, gen=torch_generator(0))
    # BackPACK's extend() adds module hooks that torch.func cannot trace: a separate copy with the
    # same weights.
    model = extend(digits_mlp(hidden=128, gen=torch_generator(0)))
    model.load_state_dict(ours.state_dict())
    lossf = extend(torch.nn.CrossEntropyLoss())
    params = list(model.parameters())

    def plain():
        model.zero_grad()
        lossf(model(xb), yb).backward()

    def bp_variance():
        model.zero_grad()
        with backpack(Variance()):
            lossf(model(xb), yb).backward()
        return torch.cat([p.variance.reshape(-1) for p in params])

    def bp_batchgrad():
        model.zero_grad()
        with backpack(BatchGrad()):
            lossf(model(xb), yb).backward()
        return torch.cat([p.grad_batch.reshape(n, -1) for p in params], dim=1)

    def bp_b_simple():
        """B_simple from one BackPACK Variance pass: tr S = N/(N−1)·Σ var·N², |G|² = |ḡ|² − tr S/N."""
        var = bp_variance() * n**2
        gbar = torch.cat([p.grad.reshape(-1) for p in params]).double()
        tr = float(var.double().sum()) * n / (n - 1)
        g2 = float(gbar @ gbar) - tr / n
        return tr / g2

    def ours_variance():
        g = per_example_grads(ours, F.cross_entropy, xb, yb, dtype=None)
        mean = g.mean(0)
        return (g * g).mean(0) - mean * mean  # ddof 0

    def ours_noise_scale():
        return gradient_noise_scale(ours, F.cross_entropy, xb, yb)

    # agreement (float32 both sides)
    var_bp = bp_variance() * n**2
    var_ours = ours_variance()
    rel_var = float((var_bp - var_ours).abs().max() / var_ours.abs().max())
    rows_bp = bp_batchgrad() * n
    rows_ours = per_example_grads(ours, F.cross_entropy, xb, yb, dtype=None)
    rel_rows = float((rows_bp - rows_ours).abs().max() / rows_ours.abs().max())
    ref64 = digits_mlp(hidden=128, gen=torch_generator(0)).double()
    g64 = per_example_grads(ref64, F.cross_entropy, xb.double(), yb)
    var64 = g64.var(0, unbiased=False)
    rel_var64 = float((var_bp.double() - var64).abs().max() / var64.abs().max())
    b_bp = bp_b_simple()
    b_ours = ours_noise_scale().b_simple
    fns = {"plain forward+backward": plain, "BackPACK Variance": bp_variance, "BackPACK BatchGrad": bp_batchgrad,
           "BackPACK B_simple (Variance pass, no SE)": bp_b_simple,
           "ours: rows + E[g²]−E[g]² (float32)": ours_variance, "ours: B_simple with SEs (float64)": ours_noise_scale}
    for f in fns.values():
        f()
    res = dict(zip(fns, interleaved(list(fns.values()), 15)))
    print(f"digits MLP 64-128-128-10 ({sum(p.numel() for p in params)} params), batch {n}, float32, 1 thread")
    print(f"max relative difference, variance (BackPACK·N² vs ours, float32): {rel_var:.2e}; "
          f"vs float64 reference: {rel_var64:.2e}")
    print(f"max relative difference, per-example rows (BackPACK·N vs ours): {rel_rows:.2e}")
    print(f"B_simple: BackPACK {b_bp:.6f}, ours {b_ours:.6f}, relative difference {abs(b_bp - b_ours) / b_ours:.1e}")
    base = res["BackPACK Variance"][0]
    for name, (med, mn) in res.items():
        print(f"{name:40s} median {med * 1e3:7.2f} ms  min {mn * 1e3:7.2f} ms  (median / BackPACK Variance {med / base:.2f})")
    ours_b = res["ours: B_simple with SEs (float64)"]
    bp_b = res["BackPACK B_simple (Variance pass, no SE)"]
    print(f"ratio ours B_simple (with SEs) / BackPACK B_simple: {ours_b[0] / bp_b[0]:.2f} (medians), "
          f"{ours_b[1] / bp_b[1]:.2f} (minima)")
    print(f"ratio ours(rows+variance) / BackPACK Variance: {res['ours: rows + E[g²]−E[g]² (float32)'][0] / base:.2f} "
          f"(medians); ours(rows) / BackPACK BatchGrad: "
          f"{res['ours: rows + E[g²]−E[g]² (float32)'][0] / res['BackPACK BatchGrad'][0]:.2f}")
    est = ours_noise_scale()
    print(f"B_simple at initialisation over these {n} examples: {est.b_simple:.1f} ± {est.b_simple_se:.1f}")


if __name__ == "__main__":
    main()
