"""Per-example gradients: torch.func vs a Python loop, chunking, and the BatchNorm refusal."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.ml.pergrad import (
    BatchStatisticsError,
    check_per_example_ok,
    flatten,
    per_example_grads,
    per_example_grads_loop,
    trainable_params,
    unflatten,
)
from crossnoise.ml.tasks import digits_cnn, digits_mlp, load_digits, torch_generator
from crossnoise.validation import InputError


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_vmap_matches_python_loop_to_1e6(kind):
    # float64 model: both paths compute the same sums in a different order, so they agree to
    # ~1e-15 relative; 1e-6 (the requirement) leaves a wide margin and still fails on any
    # wrong index, scale or ordering.
    gen = torch_generator(3)
    x, y = load_digits(images=(kind == "cnn"))
    model = (digits_mlp(gen=gen) if kind == "mlp" else digits_cnn(gen=gen)).double()
    xb, yb = x[:40].double(), y[:40]
    fast = per_example_grads(model, F.cross_entropy, xb, yb, chunk_size=16)
    slow = per_example_grads_loop(model, F.cross_entropy, xb, yb)
    assert fast.shape == slow.shape == (40, sum(p.numel() for p in model.parameters()))
    assert torch.max(torch.abs(fast - slow)) <= 1e-6 * torch.max(torch.abs(slow))
    # the mean row is the gradient of the mean loss
    loss = F.cross_entropy(model(xb), yb)
    full = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(model.parameters()))])
    torch.testing.assert_close(fast.mean(0), full, rtol=1e-10, atol=1e-12)


def test_chunk_size_does_not_change_rows():
    gen = torch_generator(0)
    model = digits_mlp(gen=gen)
    x, y = load_digits()
    a = per_example_grads(model, F.cross_entropy, x[:50], y[:50], chunk_size=7)
    b = per_example_grads(model, F.cross_entropy, x[:50], y[:50], chunk_size=50)
    # float32 model: different chunk sizes change the summation order inside the batched matmuls,
    # so rows agree to float32 rounding (~1e-7 of the largest entry), not bit for bit.
    assert torch.max(torch.abs(a - b)) <= 1e-5 * torch.max(torch.abs(b))


def test_batchnorm_train_mode_refused_with_pointer_to_two_size():
    model = digits_mlp(batchnorm=True, gen=torch_generator(0))
    x, y = load_digits()
    with pytest.raises(BatchStatisticsError, match="two-size estimator") as info:
        per_example_grads(model, F.cross_entropy, x[:8], y[:8])
    assert isinstance(info.value, InputError)
    model.eval()  # frozen statistics: per-example gradients exist
    check_per_example_ok(model)
    assert per_example_grads(model, F.cross_entropy, x[:8], y[:8]).shape[0] == 8


def test_flatten_unflatten_roundtrip_and_bad_input():
    model = nn.Linear(3, 2)
    p = trainable_params(model)
    v = flatten(p)
    back = unflatten(v, p)
    for k in p:
        assert torch.equal(back[k], p[k])
    with pytest.raises(InputError, match="entries"):
        unflatten(torch.zeros(5), p)
    with pytest.raises(InputError, match="same, non-zero number of rows"):
        per_example_grads(model, F.cross_entropy, torch.zeros(3, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(InputError, match="chunk_size"):
        per_example_grads(model, F.cross_entropy, torch.zeros(3, 3), torch.zeros(3, dtype=torch.long), chunk_size=0)
