"""``crossnoise ml`` — the gradient noise scale of neural-network training (PyTorch).

Commands: ``noise-scale`` (B_simple of a task, JSON contract below) and the experiments
``scaling``, ``standardize``, ``batchnorm``, ``augment``, ``graphsage``, ``transfer``, ``gan``,
``critical`` (each: a table, a PNG under ``--out`` and ``--json``).  torch is imported only inside the
commands, so ``crossnoise --help`` stays fast.

``crossnoise ml noise-scale --json`` → ``{"b_simple", "b_simple_se", "trace_sigma",
"grad_norm_sq", "batch_size", "n_examples", ...}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from crossnoise.cli.common import common_options, emit, out_dir, print_table, progress_reporter
from crossnoise.validation import InputError, check_choice

TASKS = ("digits-mlp", "digits-cnn", "cancer-logreg", "cancer-mlp")


def _pm(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """Merge ``x`` and ``x_se`` into one "value ± se" cell for the human table."""
    out = []
    for r in rows:
        row: dict[str, Any] = {}
        for c in columns:
            v = r.get(c)
            se = r.get(f"{c}_se")
            if isinstance(v, float) and isinstance(se, float) and math.isfinite(se):
                row[c] = f"{v:.4g} ± {se:.2g}"
            elif isinstance(v, float):
                row[c] = f"{v:.4g}"
            else:
                row[c] = v
        out.append(row)
    return out


@click.group(name="ml", context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Gradient noise scale of neural-network training (PyTorch).

    B_simple = tr Σ / |G|² (McCandlish et al. 2018): the batch size at which the gradient's
    signal-to-noise ratio is 1, from per-example gradients (torch.func) or from batch gradients
    at two sizes.
    """


@group.command(name="noise-scale")
@click.option("--task", default="digits-mlp", show_default=True, help=f"One of: {', '.join(TASKS)}.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Training batch B (n of the record).")
@click.option("--steps", type=int, default=0, show_default=True, help="SGD steps before measuring.")
@click.option("--lr", type=float, default=None, help="SGD step (default: the task's).")
@click.option("--examples", type=int, default=None, help="Examples for G and Σ (default: the whole data set).")
@click.option("--method", default="per-example", show_default=True, help="per-example or two-size.")
@click.option("--b-noise", "with_b_noise", is_flag=True, help="Also B_noise = tr(HΣ)/GᵀHG (Hessian-vector products).")
@common_options
def noise_scale_cmd(task: str, batch_size: int, steps: int, lr: float | None, examples: int | None, method: str,
                    with_b_noise: bool, seed: int, as_json: bool, out: str | None) -> None:
    """B_simple of a task's model at initialisation or after --steps of SGD."""
    check_choice(task, "--task", TASKS)
    check_choice(method, "--method", ("per-example", "two-size"))
    if batch_size is None or batch_size < 2:
        raise InputError(f"`--batch-size` must be an integer >= 2 (a variance needs 2 examples); got {batch_size}.")
    if steps < 0:
        raise InputError(f"`--steps` must be a non-negative integer; got {steps}.")
    if examples is not None and examples < 3:
        raise InputError(f"`--examples` must be an integer >= 3 (a variance and its standard error); got {examples}.")
    import numpy as np
    import torch

    from crossnoise.ml.hessian import b_noise
    from crossnoise.ml.noise_scale import gradient_noise_scale
    from crossnoise.ml.tasks import make_task
    from crossnoise.ml.training import full_loss, train_sgd
    from crossnoise.ml.two_size import two_size_noise_scale

    torch.set_num_threads(1)
    init_rng, train_rng, meas_rng = np.random.default_rng(seed).spawn(3)
    t = make_task(task, rng=init_rng)
    status = "ok"
    if steps:
        with progress_reporter(f"training {task}", steps) as prog:
            res = train_sgd(t.model, t.loss_fn, t.inputs, t.targets, batch_size=batch_size, lr=lr or t.lr,
                            steps=steps, rng=train_rng, progress=prog)
        status = res.status
        if status != "ok":
            raise click.ClickException(f"training stopped after {res.steps_done} steps: {status} (try a smaller --lr).")
    n = t.n_examples if examples is None else examples
    if n < 3 or n > t.n_examples:
        raise InputError(f"`--examples` must be an integer in [3, {t.n_examples}]; got {examples}.")
    x, y = t.inputs[:n], t.targets[:n]
    if method == "per-example":
        est = gradient_noise_scale(t.model, t.loss_fn, x, y, batch_size=batch_size, label=task)
    else:
        est = two_size_noise_scale(t.model, t.loss_fn, x, y, b_small=max(batch_size // 4, 1), b_big=batch_size,
                                   repeats=64, rng=meas_rng, label=task)
    payload: dict[str, Any] = est.to_dict() | {"task": task, "steps": steps, "loss": full_loss(t.model, t.loss_fn, x, y),
                                               "n_params": t.n_params, "snr_at_batch": est.record.snr,
                                               "status": status, "seed": seed}
    if with_b_noise:
        bn = b_noise(t.model, t.loss_fn, x[: min(n, 512)], y[: min(n, 512)], batch_size=batch_size)
        payload |= {"b_noise": bn.b_noise, "b_noise_se": bn.b_noise_se, "b_noise_examples": bn.n_examples}

    def render(p: Mapping[str, Any]) -> None:
        keys = ["b_simple", "trace_sigma", "grad_norm_sq", "snr_at_batch", "batch_size", "n_examples", "n_params",
                "loss", "method"] + (["b_noise"] if with_b_noise else [])
        print_table(f"noise scale of {task} after {steps} steps",
                    _pm([{"quantity": k, "value": p[k], "value_se": p.get(f"{k}_se")} for k in keys],
                        ["quantity", "value"]))

    emit(payload, as_json, render)


# ---------------------------------------------------------------------------- experiments
_DISPLAY: dict[str, list[str]] = {
    "scaling": ["batch_size", "rule", "lr", "tr_cov_update", "tr_cov_update_predicted", "steps", "final_loss",
                "diverged"],
    "standardize": ["features", "step", "loss", "trace_sigma", "grad_norm_sq", "b_simple", "b_simple_est",
                    "top_share", "var_max_over_min"],
    "batchnorm": ["model", "step", "loss", "two_size_trace_sigma", "two_size_grad_norm_sq", "two_size_b_simple",
                  "per_example_b_simple", "tracker_ema_b_simple"],
    "augment": ["trained", "step", "measured_on", "trace_sigma", "grad_norm_sq", "b_simple", "train_loss", "test_acc"],
    "graphsage": ["fanout", "agg_var_measured", "agg_var_formula", "agg_ratio", "grad_var_trace", "formula_shape",
                  "grad_var_over_shape", "step_ms"],
    "transfer": ["seed", "start", "step", "loss", "trace_sigma", "grad_norm_sq", "b_simple"],
    "critical": ["batch_size", "steps", "examples", "best_lr", "fit_steps"],
    "gan": ["step", "sim_r2", "sim_r2_closed_form", "sim_z", "alt_Q", "alt_Q_closed_form", "alt_z", "dirac_sim_r2",
            "dirac_linearised", "dirac_alt_r2"],
}
_SECONDARY: dict[str, tuple[str, list[str]]] = {
    "standardize": ("logreg_w0", []),
    "batchnorm": ("scale_invariance", ["when", "alpha", "bn_loss", "bn_grad_norm_layer1", "bn_grad_norm_x_alpha",
                                       "no-bn_loss", "no-bn_grad_norm_x_alpha"]),
    "gan": ("mixture", ["step", "d_loss", "g_loss", "d_b_simple", "g_b_simple", "d_trace_sigma", "g_trace_sigma",
                        "modes", "frac_near_mode"]),
}


def _run_experiment(name: str, kwargs: dict[str, Any], seed: int, as_json: bool, out: str | None) -> None:
    from importlib import import_module

    mod = import_module(f"crossnoise.ml.exp_{name}")
    run: Callable[..., Any] = getattr(mod, f"run_{name}")
    plot: Callable[..., Any] = getattr(mod, f"plot_{name}")
    with progress_reporter(f"ml {name}") as prog:
        result = run(rng=seed, progress=prog, **kwargs)
    png = plot(result, out_dir(out) / f"ml-{name}.png")
    payload = result.to_dict() | {"plot": str(png), "seed": seed}
    if name == "standardize":
        payload["training"] = payload["rows"]

    def render(p: Mapping[str, Any]) -> None:
        print_table(f"ml {name} (seed {seed}; plot: {png})", _pm(result.rows, _DISPLAY[name]))
        if name in _SECONDARY:
            key, cols = _SECONDARY[name]
            sec = result.extra[key]
            if name == "standardize":
                rows = [{"features": c} | v for c, v in sec.items()]
                cols = ["features", "trace_sigma", "grad_norm_sq", "b_simple", "b_simple_est", "top_share", "lr"]
            else:
                rows = list(sec)
            print_table(f"ml {name}: {key}", _pm(rows, cols))
        print_table(f"ml {name}: summary", [{"quantity": k, "value": v if not isinstance(v, (list, dict)) else str(v)}
                                            for k, v in result.summary.items() if k != "by_checkpoint"])

    emit(payload, as_json, render)


def _experiment(name: str, doc: str, options: list[Callable[[Callable[..., Any]], Callable[..., Any]]]) -> None:
    def cmd(seed: int, as_json: bool, out: str | None, quick: bool, **kwargs: Any) -> None:
        _run_experiment(name, {"quick": quick} | {k: v for k, v in kwargs.items() if v is not None}, seed, as_json, out)

    cmd.__doc__ = doc
    f: Callable[..., Any] = cmd
    for opt in reversed(options):
        f = opt(f)
    f = click.option("--quick", is_flag=True, help="A smaller, faster run.")(f)
    f = common_options(f)
    group.command(name=name)(f)


_experiment("scaling", "(a) η ∝ B vs η ∝ √B: tr Cov(Δθ) per step and the loss after a fixed example budget.", [
    click.option("--examples", type=int, default=None, help="Examples per training run."),
    click.option("--base-lr", type=float, default=None, help="η0 at batch 32."),
    click.option("--seeds", type=int, default=None, help="Training runs per (rule, B)."),
])
_experiment("standardize", "(b) Raw vs standardized breast-cancer features: tr Σ, |G|², B_simple, anisotropy.", [
    click.option("--steps", type=int, default=None, help="SGD steps."),
])
_experiment("batchnorm", "(c) With/without BatchNorm: noise scale along training; gradient ∝ 1/|w| under BN.", [
    click.option("--steps", type=int, default=None, help="SGD steps."),
])
_experiment("augment", "(d) Digits CNN with/without augmentation: tr Σ and B_simple.", [
    click.option("--steps", type=int, default=None, help="SGD steps."),
])
_experiment("graphsage", "(e) GraphSAGE fan-out s: gradient variance vs (σ²/s)(d−s)/(d−1), time per step.", [
    click.option("--repeats", type=int, default=None, help="Neighbour re-samplings per fan-out."),
])
_experiment("transfer", "(f) Fine-tune (digits 0–4 → 5–9) vs scratch: tr Σ, |G|², B_simple.", [
    click.option("--steps", type=int, default=None, help="Fine-tuning steps."),
    click.option("--seeds", type=int, default=None, help="Independent repeats."),
])
_experiment("gan", "(g) Noisy GDA on x·y vs closed form, Dirac-GAN, 2-D mixture GAN noise scales.", [
    click.option("--runs", type=int, default=None, help="Independent runs for E r²."),
    click.option("--gan-steps", type=int, default=None, help="Mixture-GAN training steps."),
])
_experiment("critical", "Critical batch: steps to a target loss vs B (best lr per B), fit S = S_min + E_min/B.", [
    click.option("--target-loss", type=float, default=None, help="Full-data loss to reach."),
    click.option("--repeats", type=int, default=None, help="Independent runs per batch size."),
])
