"""crossnoise.ml — the gradient noise scale of neural-network training (PyTorch).

Estimators: :mod:`.pergrad` (per-example gradients, torch.func), :mod:`.noise_scale` (B_simple
with standard errors), :mod:`.linear_norms` (one-backward norms for Linear stacks),
:mod:`.two_size` and :mod:`.tracker` (batch gradients at two sizes), :mod:`.hessian` (B_noise),
:mod:`.critical` (critical batch size).  Tasks and training: :mod:`.tasks`, :mod:`.training`,
:mod:`.graphsage`, :mod:`.gan`.  Experiments: ``exp_*``; the report study: :mod:`.study`.
Every estimate maps onto :class:`crossnoise.snr.SignalNoise` (DESIGN §1).
"""
