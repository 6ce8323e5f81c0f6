"""Noisy gradient descent–ascent: the bilinear game, the Dirac-GAN and a 2-D mixture GAN.

**Bilinear game** f(x, y) = x·y (x minimises, y maximises), gradient noise ξ of variance σ² per
coordinate, step η.  *Simultaneous* GDA, :math:`x' = x - \\eta(y + \\xi_x)`,
:math:`y' = y + \\eta(x + \\xi_y)`, gives :math:`r'^2 = (1+\\eta^2)r^2 + \\eta^2|\\xi|^2 +` (zero-mean
cross terms), hence

.. math:: E\\,r_t^2 = (1+\\eta^2)^t r_0^2 + 2\\sigma^2\\big((1+\\eta^2)^t - 1\\big).

*Alternating* GDA, :math:`x' = x - \\eta(y + \\xi_x)`, :math:`y' = y + \\eta(x' + \\xi_y)`, conserves
:math:`Q = x^2 + y^2 - \\eta xy` without noise; with noise the second-order terms add
:math:`\\eta^2\\sigma^2 + \\eta^2\\sigma^2` per step (the η⁴ terms cancel), so

.. math:: E\\,Q_t = Q_0 + 2\\eta^2\\sigma^2 t .

**Dirac-GAN** (Mescheder, Geiger & Nowozin, ICML 2018): generator δ_θ, discriminator D(x) = ψx,
:math:`f(\\theta, \\psi) = h(\\psi\\theta) + h(0)`, h(t) = −log(1 + e^{−t}); near the equilibrium
h'(0) = ½ makes it the bilinear game with step η/2, so the linearised law is
:math:`E r_t^2 \\approx (1+\\eta^2/4)^t r_0^2 + 8\\sigma^2((1+\\eta^2/4)^t - 1)` for noise ξ of
variance σ² on each gradient.

**2-D mixture GAN**: 8 Gaussians (s.d. 0.05) on a circle of radius 2; generator and
discriminator MLPs; non-saturating loss; per-example gradients (one real/fake pair per example
for D, one latent draw for G) give B_simple for each player along training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import InputError, check_choice, check_nonnegative_int, check_positive_float, check_positive_int

from .noise_scale import noise_scale_from_grads
from .pergrad import per_example_grads_fn, trainable_params
from .tasks import init_module

__all__ = [
    "GDATrajectories",
    "bilinear_gda",
    "bilinear_sim_closed_form",
    "bilinear_alt_closed_form",
    "dirac_gan",
    "dirac_linearised",
    "mixture_modes",
    "sample_mixture",
    "MixtureGAN",
]


@dataclass(frozen=True, slots=True)
class GDATrajectories:
    """Per-step mean and standard error over independent runs of r² and of Q = x² + y² − ηxy."""

    mode: str
    r2_mean: np.ndarray
    r2_se: np.ndarray
    q_mean: np.ndarray
    q_se: np.ndarray
    n_runs: int


def _validate_gda(mode: str, eta: float, sigma: float, steps: int, runs: int) -> None:
    check_choice(mode, "mode", ("simultaneous", "alternating"))
    check_positive_float(eta, "eta")
    check_positive_float(sigma, "sigma", allow_zero=True)
    check_nonnegative_int(steps, "steps")
    check_positive_int(runs, "runs", minimum=2)


def _summarise(mode: str, xs: np.ndarray, ys: np.ndarray, eta: float) -> GDATrajectories:
    r2 = xs**2 + ys**2
    q = r2 - eta * xs * ys
    k = xs.shape[1]
    return GDATrajectories(mode, r2.mean(1), r2.std(1, ddof=1) / math.sqrt(k), q.mean(1), q.std(1, ddof=1) / math.sqrt(k), k)


def bilinear_gda(*, mode: str = "simultaneous", eta: float = 0.1, sigma: float = 0.5, steps: int = 100,
                 runs: int = 2000, x0: float = 1.0, y0: float = 0.0, rng: RNGLike = None) -> GDATrajectories:
    """Simulate noisy GDA on f = x·y for ``runs`` independent noise streams (vectorised).

    Examples
    --------
    >>> t = bilinear_gda(eta=0.1, sigma=0.0, steps=10, runs=2, rng=0)
    >>> round(float(t.r2_mean[-1]), 6) == round(1.01 ** 10, 6)
    True
    """
    _validate_gda(mode, eta, sigma, steps, runs)
    gen = as_generator(rng)
    x = np.full(runs, float(x0))
    y = np.full(runs, float(y0))
    xs, ys = [x.copy()], [y.copy()]
    for _ in range(steps):
        nx, ny = gen.normal(0.0, sigma, runs), gen.normal(0.0, sigma, runs)
        if mode == "simultaneous":
            x, y = x - eta * (y + nx), y + eta * (x + ny)
        else:
            x = x - eta * (y + nx)
            y = y + eta * (x + ny)
        xs.append(x.copy())
        ys.append(y.copy())
    return _summarise(mode, np.array(xs), np.array(ys), eta)


def bilinear_sim_closed_form(t: np.ndarray, eta: float, sigma: float, r0_sq: float) -> np.ndarray:
    """E r_t² = (1+η²)^t r0² + 2σ²((1+η²)^t − 1) for simultaneous noisy GDA."""
    a = (1 + eta**2) ** np.asarray(t, dtype=float)
    return a * r0_sq + 2 * sigma**2 * (a - 1)


def bilinear_alt_closed_form(t: np.ndarray, eta: float, sigma: float, q0: float) -> np.ndarray:
    """E Q_t = Q0 + 2η²σ²t for alternating noisy GDA (Q = x² + y² − ηxy)."""
    return q0 + 2 * eta**2 * sigma**2 * np.asarray(t, dtype=float)


def dirac_gan(*, mode: str = "simultaneous", eta: float = 0.1, sigma: float = 0.5, steps: int = 100,
              runs: int = 2000, theta0: float = 1.0, psi0: float = 0.0, rng: RNGLike = None) -> GDATrajectories:
    """Noisy GDA on the Dirac-GAN f(θ, ψ) = h(ψθ) + h(0), h(t) = −log(1 + e^{−t}) (θ descends, ψ ascends)."""
    _validate_gda(mode, eta, sigma, steps, runs)
    gen = as_generator(rng)
    th = np.full(runs, float(theta0))
    ps = np.full(runs, float(psi0))

    def hprime(t: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(t))  # d/dt −log(1+e^{−t}) = σ(−t)

    ths, pss = [th.copy()], [ps.copy()]
    for _ in range(steps):
        n1, n2 = gen.normal(0.0, sigma, runs), gen.normal(0.0, sigma, runs)
        if mode == "simultaneous":
            hp = hprime(ps * th)
            th, ps = th - eta * (hp * ps + n1), ps + eta * (hp * th + n2)
        else:
            th = th - eta * (hprime(ps * th) * ps + n1)
            ps = ps + eta * (hprime(ps * th) * th + n2)
        ths.append(th.copy())
        pss.append(ps.copy())
    return _summarise(mode, np.array(ths), np.array(pss), eta)


def dirac_linearised(t: np.ndarray, eta: float, sigma: float, r0_sq: float) -> np.ndarray:
    """Linearised Dirac-GAN law: (1+η²/4)^t r0² + 8σ²((1+η²/4)^t − 1) (simultaneous)."""
    a = (1 + eta**2 / 4) ** np.asarray(t, dtype=float)
    return a * r0_sq + 8 * sigma**2 * (a - 1)


# ---------------------------------------------------------------------- 2-D mixture GAN
def mixture_modes(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The k mode centres on a circle."""
    a = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
    return radius * torch.stack([torch.cos(a), torch.sin(a)], dim=1)


def sample_mixture(n: int, gen: torch.Generator, *, k: int = 8, radius: float = 2.0, sd: float = 0.05) -> torch.Tensor:
    """n draws from the ring of k Gaussians."""
    centres = mixture_modes(k, radius)
    idx = torch.randint(0, k, (n,), generator=gen)
    return centres[idx] + sd * torch.randn(n, 2, generator=gen)


def _mlp(n_in: int, n_out: int, hidden: int, gen: torch.Generator) -> nn.Module:
    return init_module(nn.Sequential(nn.Linear(n_in, hidden, device="meta"), nn.ReLU(),
                                     nn.Linear(hidden, hidden, device="meta"), nn.ReLU(),
                                     nn.Linear(hidden, n_out, device="meta")), gen)


class MixtureGAN:
    """Generator G: z ∈ R² → R², discriminator D: R² → logit; non-saturating GAN losses.

    Per-example losses (mean over a batch gives the training losses):
    D: :math:`\\ell^D_i = \\mathrm{softplus}(-D(x_i)) + \\mathrm{softplus}(D(G(z_i)))`;
    G: :math:`\\ell^G_i = \\mathrm{softplus}(-D(G(z_i)))`.
    """

    def __init__(self, *, hidden: int = 64, gen: torch.Generator) -> None:
        self.g = _mlp(2, 2, hidden, gen)
        self.d = _mlp(2, 1, hidden, gen)

    def d_loss_one(self, dp: dict, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        dr = functional_call(self.d, dp, (real.unsqueeze(0),))
        df = functional_call(self.d, dp, (fake.unsqueeze(0),))
        return (F.softplus(-dr) + F.softplus(df)).sum()

    def g_loss_one(self, gp: dict, z: torch.Tensor) -> torch.Tensor:
        fake = functional_call(self.g, gp, (z.unsqueeze(0),))
        return F.softplus(-self.d(fake)).sum()

    def noise_scales(self, n: int, gen: torch.Generator, *, batch_size: int) -> dict[str, object]:
        """B_simple of D and of G from n per-example gradients each (fresh real and latent draws)."""
        real = sample_mixture(n, gen)
        z = torch.randn(n, 2, generator=gen)
        with torch.no_grad():
            fake = self.g(z)
        gd = per_example_grads_fn(self.d_loss_one, trainable_params(self.d), (real, fake))
        gg = per_example_grads_fn(self.g_loss_one, trainable_params(self.g), (z,))
        return {"d": noise_scale_from_grads(gd, batch_size=batch_size, label="discriminator"),
                "g": noise_scale_from_grads(gg, batch_size=batch_size, label="generator")}

    def quality(self, n: int, gen: torch.Generator, *, sd: float = 0.05) -> tuple[int, float]:
        """(modes with ≥ 1% of the samples within 3 s.d., fraction of samples within 3 s.d. of a mode)."""
        with torch.no_grad():
            x = self.g(torch.randn(n, 2, generator=gen))
        dist = torch.cdist(x, mixture_modes())
        near = dist.min(dim=1)
        good = near.values < 3 * sd
        counts = torch.bincount(near.indices[good], minlength=8)
        return int((counts >= 0.01 * n).sum()), float(good.double().mean())

    def train(self, steps: int, gen: torch.Generator, *, batch_size: int = 64, lr: float = 1e-3,
              measure_at: tuple[int, ...] = (), n_measure: int = 256,
              measure_gen: torch.Generator | None = None) -> tuple[list[dict], str]:
        """Adam (β = 0.5, 0.9) on both players, one D step per G step; measurements at steps.

        ``measure_gen`` (default ``gen``) draws the measurement samples, so that how much is
        measured does not change the training trajectory.
        """
        mgen = gen if measure_gen is None else measure_gen
        if steps < 0:
            raise InputError(f"`steps` must be a non-negative integer; got {steps}.")
        opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(0.5, 0.9))
        opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=(0.5, 0.9))
        marks = set(measure_at)
        out: list[dict] = []
        status = "ok"
        dl = gl = math.nan
        for step in range(steps + 1):
            if step in marks:
                ns = self.noise_scales(n_measure, mgen, batch_size=batch_size)
                modes, frac = self.quality(2000, mgen)
                out.append({"step": step, "d_loss": dl, "g_loss": gl, "modes": modes, "frac_near_mode": frac,
                            "d_b_simple": ns["d"].b_simple, "d_b_simple_se": ns["d"].b_simple_se,
                            "d_trace_sigma": ns["d"].trace_sigma, "d_grad_norm_sq": ns["d"].grad_norm_sq,
                            "g_b_simple": ns["g"].b_simple, "g_b_simple_se": ns["g"].b_simple_se,
                            "g_trace_sigma": ns["g"].trace_sigma, "g_grad_norm_sq": ns["g"].grad_norm_sq})
            if step == steps:
                break
            real = sample_mixture(batch_size, gen)
            z = torch.randn(batch_size, 2, generator=gen)
            fake = self.g(z)
            d_loss = (F.softplus(-self.d(real)) + F.softplus(self.d(fake.detach()))).mean()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = F.softplus(-self.d(self.g(torch.randn(batch_size, 2, generator=gen)))).mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            dl, gl = float(d_loss.detach()), float(g_loss.detach())
            if not (math.isfinite(dl) and math.isfinite(gl)):
                status = "nan_loss"
                break
        return out, status
