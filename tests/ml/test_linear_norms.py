"""One-backward per-example norms for Linear stacks vs the torch.func rows; fallbacks."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.ml.linear_norms import NotApplicable, linear_norms_and_dots
from crossnoise.ml.noise_scale import gradient_noise_scale
from crossnoise.ml.pergrad import per_example_grads
from crossnoise.ml.tasks import digits_cnn, digits_mlp, load_digits, torch_generator
from crossnoise.validation import InputError


def test_identities_match_per_example_rows():
    # float64: the layer identities and the explicit rows are the same sums in another order
    model = digits_mlp(gen=torch_generator(1)).double()
    x, y = load_digits()
    x, y = x[:200].double(), y[:200]
    v, sq, dot = linear_norms_and_dots(model, F.cross_entropy, x, y, chunk_size=64)
    g = per_example_grads(model, F.cross_entropy, x, y)
    torch.testing.assert_close(v, g.mean(0), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(sq, (g * g).sum(1), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(dot, g @ v, rtol=1e-9, atol=1e-14)


def test_not_applicable_cases():
    x, y = load_digits(images=True)
    with pytest.raises(NotApplicable):
        linear_norms_and_dots(digits_cnn(gen=torch_generator(0)), F.cross_entropy, x[:8], y[:8])
    shared = nn.Linear(64, 64)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = shared
            self.out = nn.Linear(64, 10)

        def forward(self, a):
            return self.out(torch.tanh(self.lin(torch.tanh(self.lin(a)))))

    xf, yf = load_digits()
    with pytest.raises(NotApplicable, match="once"):
        linear_norms_and_dots(Twice(), F.cross_entropy, xf[:8], yf[:8])
    sum_loss = lambda o, t: F.cross_entropy(o, t, reduction="sum")  # noqa: E731
    with pytest.raises(InputError, match="MEAN loss"):
        linear_norms_and_dots(digits_mlp(gen=torch_generator(0)), sum_loss, xf[:8], yf[:8])
    with pytest.raises(InputError, match="MEAN loss"):
        gradient_noise_scale(digits_mlp(gen=torch_generator(0)), sum_loss, xf[:8], yf[:8])


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_gradient_noise_scale_paths_agree(kind):
    # cnn: streaming falls back to vmap rows; mlp: the Linear identities.  Both against the
    # stacked-rows reference (float64; same statistics, other summation order).
    gen = torch_generator(2)
    images = kind == "cnn"
    model = (digits_cnn(gen=gen) if images else digits_mlp(gen=gen)).double()
    x, y = load_digits(images=images)
    x, y = x[:120].double(), y[:120]
    a = gradient_noise_scale(model, F.cross_entropy, x, y, chunk_size=50)
    b = gradient_noise_scale(model, F.cross_entropy, x, y, streaming=False)
    for q in ("trace_sigma", "trace_sigma_se", "grad_norm_sq", "grad_norm_sq_se"):
        assert getattr(a, q) == pytest.approx(getattr(b, q), rel=1e-8), q
