"""The linear-regression case with a closed-form gradient noise scale, shared by the ml tests.

Linear regression y = w*·x + ε, x ~ N(0, I_d), ε ~ N(0, s²), per-example loss ½(w·x − y)².
With Δ = w − w*: g = x (xᵀΔ − ε), G = E g = Δ, and by Isserlis E[x xᵀ Δ Δᵀ x xᵀ] = |Δ|² I + 2ΔΔᵀ,
so Σ = |Δ|² I + ΔΔᵀ + s² I:  tr Σ = (d + 1)|Δ|² + d s²,  |G|² = |Δ|²,  B_simple = tr Σ/|G|².
With H = E x xᵀ = I also B_noise = tr(HΣ)/(GᵀHG) = B_simple.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

D, NOISE = 5, 0.5


def linreg_case(seed, n):
    """(model at w* + Δ, mean ½-squared loss, x, y, Δ) for n Gaussian examples."""
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=D)
    delta = np.full(D, 0.3)
    x = rng.normal(size=(n, D))
    y = x @ w_star + NOISE * rng.normal(size=n)
    model = nn.Linear(D, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor(w_star + delta)[None, :])

    def loss_fn(out, target):
        return 0.5 * ((out.reshape(-1) - target) ** 2).mean()

    return model, loss_fn, torch.tensor(x), torch.tensor(y), delta


def linreg_closed_form(delta):
    """(tr Σ, |G|², B_simple) of the population."""
    g2 = float(delta @ delta)
    tr = (D + 1) * g2 + D * NOISE**2
    return tr, g2, tr / g2


@pytest.fixture
def linreg():
    return SimpleNamespace(case=linreg_case, closed_form=linreg_closed_form, d=D, noise=NOISE)
