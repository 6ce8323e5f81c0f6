"""The registry of sweepable experiments: a name → a function of (config, rng) → metrics.

A sweep file (:mod:`crossnoise.sweep`) names an experiment and a grid over its parameters.  Each
experiment has a parameter schema (name, type, default, bounds, help) that the sweep checks
before anything runs, and a ``version`` that enters the run id (bump it when the numbers an
experiment produces change).  Its function is named by dotted path (``"module:function"``) and
imported only when a cell runs, so the registry costs nothing to import and a domain that has not
landed makes only its own experiments unavailable.

Every experiment function has the signature ``fn(config: dict, *, rng) -> dict`` and returns
plain numbers (a metrics dict).  Cells of one sweep that share a seed share a random stream
(common random numbers), so differences along the grid are not blurred by independent noise.

The cheap core experiment ``core.snr-synthetic`` draws n Gaussian per-sample vectors
:math:`x_i \\sim \\mathcal N(\\mu\\mathbf 1_d, \\sigma^2 I_d)` and measures them with
:meth:`crossnoise.snr.SignalNoise.from_samples`; its exact values are

.. math::

    B_{noise} = \\frac{d\\sigma^2}{d\\mu^2} = \\frac{\\sigma^2}{\\mu^2},\\qquad
    \\mathrm{SNR} = \\frac{n\\mu^2}{\\sigma^2},\\qquad \\ell = \\sqrt{\\sigma^2/(n\\mu^2)},

which it reports next to the estimates (``*_theory``) so a sweep can be checked against theory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from crossnoise.validation import InputError

__all__ = ["Param", "Experiment", "EXPERIMENTS", "get_experiment", "experiment_names", "register"]

_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an experiment: its type (``int``, ``float``, ``str``, ``bool``), default,
    bounds (inclusive) or choices, and a help line."""

    name: str
    kind: str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def describe(self) -> str:
        rng = ""
        if self.choices is not None:
            rng = f" in {{{', '.join(map(str, self.choices))}}}"
        elif self.minimum is not None or self.maximum is not None:
            lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
            hi = "inf" if self.maximum is None else f"{self.maximum:g}"
            rng = f" in [{lo}, {hi}]"
        return f"{self.name} ({self.kind}{rng}, default {self.default!r})"

    def check(self, value: Any, where: str) -> Any:
        """``value`` converted to the parameter's type, or InputError naming the parameter."""
        bad = InputError(f"`{where}` must be {self.describe()}; got {value!r}.")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise bad
        elif self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
                raise bad
            value = int(value)
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad
            value = float(value)
        if self.choices is not None and value not in self.choices:
            raise bad
        if self.minimum is not None and value < self.minimum:
            raise bad
        if self.maximum is not None and value > self.maximum:
            raise bad
        return value


@dataclass(frozen=True, slots=True)
class Experiment:
    """A sweepable experiment.

    Attributes
    ----------
    name : str
        Dotted name, ``<area>.<what>`` (``core.snr-synthetic``, ``bio.pattern``).
    target : str
        ``"module:function"`` of a function ``fn(config, *, rng) -> dict``, imported lazily.
    params : tuple of Param
        The schema; a config may set only these.
    version : str
        Enters the run id; bump it when the experiment's numbers change.
    description : str
        One line for ``crossnoise sweep experiments``.
    requires : str or None
        A module that must be importable for the experiment to be available (its domain).
    check : str or None
        ``"module:function"`` of ``check(config)`` that raises InputError for values the schema
        cannot express (a preset or molecule name); run before any cell, when the domain exists.
    """

    name: str
    target: str
    params: tuple[Param, ...]
    version: str = "1"
    description: str = ""
    requires: str | None = None
    check: str | None = None

    @property
    def source_modules(self) -> tuple[str, ...]:
        """Modules whose source determines the numbers: the target's module and the domain package."""
        mods = [self.target.split(":")[0]]
        if self.requires:
            parts = self.requires.split(".")
            mods.append(".".join(parts[:2]) if parts[0] == "crossnoise" and len(parts) > 2 else self.requires)
        return tuple(mods)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def available(self) -> tuple[bool, str]:
        """Whether the experiment's code is present, and why not."""
        module = self.requires or self.target.split(":")[0]
        try:
            import_module(module)
        except ModuleNotFoundError as exc:
            return False, f"{module} is not built yet ({exc.name} not found)"
        return True, ""

    def resolve_config(self, config: Mapping[str, Any], *, where: str = "config") -> dict[str, Any]:
        """The full config: defaults filled in, types checked, unknown keys refused (listing the valid ones)."""
        params = {p.name: p for p in self.params}
        unknown = [k for k in config if k not in params]
        if unknown:
            raise InputError(f"`{where}.{unknown[0]}` is not a parameter of {self.name}; valid parameters: "
                             f"{', '.join(p.describe() for p in self.params)}.")
        return {name: (p.check(config[name], f"{where}.{name}") if name in config else p.default)
                for name, p in params.items()}

    def check_config(self, config: Mapping[str, Any]) -> None:
        """Run the experiment's own check of a resolved config (no-op if it has none or is unavailable)."""
        if self.check is None or not self.available()[0]:
            return
        module, attr = self.check.split(":")
        getattr(import_module(module), attr)(config)

    def function(self) -> Callable[..., dict[str, Any]]:
        ok, why = self.available()
        if not ok:
            raise InputError(f"`experiment` {self.name} is unavailable: {why}.")
        module, attr = self.target.split(":")
        return getattr(import_module(module), attr)

    def run(self, config: Mapping[str, Any], *, rng: Any) -> dict[str, Any]:
        """Run one cell: ``fn(resolved config, rng=rng)``, with its wall time added as ``wall_s``."""
        full = self.resolve_config(config)
        t0 = time.perf_counter()
        metrics = dict(self.function()(full, rng=rng))
        metrics.setdefault("wall_s", time.perf_counter() - t0)
        return metrics


EXPERIMENTS: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    """Add an experiment to the registry (a name may be registered once)."""
    if exp.name in EXPERIMENTS:
        raise InputError(f"`name` {exp.name!r} is already registered.")
    EXPERIMENTS[exp.name] = exp
    return exp


def experiment_names(*, only_available: bool = False) -> list[str]:
    return [n for n, e in EXPERIMENTS.items() if not only_available or e.available()[0]]


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name``; the error lists the valid names."""
    if name not in EXPERIMENTS:
        names = []
        for n, e in EXPERIMENTS.items():
            ok, _ = e.available()
            names.append(n if ok else f"{n} (not built yet)")
        raise InputError(f"`experiment` must be one of {', '.join(names)}; got {name!r}.")
    return EXPERIMENTS[name]


# --------------------------------------------------------------------------- core experiment
def snr_synthetic(config: Mapping[str, Any], *, rng: Any) -> dict[str, Any]:
    """Measure n Gaussian per-sample vectors N(μ·1_d, σ²I_d) and compare with the exact values.

    Parameters (``config``): ``dim`` d, ``n`` samples, ``mean`` μ (per component), ``sigma`` σ,
    ``repeats`` r independent readings.  Returns the estimates of the first reading
    (:meth:`SignalNoise.from_samples`, with delta-method standard errors), the exact
    ``noise_scale_theory = σ²/μ²``, ``snr_theory = nμ²/σ²`` and ``localization_error_theory``,
    the z-score of the noise-scale estimate and the cost ``n_draws = r·n·d``.  With r ≥ 2 it
    also checks the standard error itself: ``repeat_noise_scale_sd`` is the spread (ddof=1) of
    the r estimates, ``repeat_noise_scale_se_mean`` the mean delta-method SE, and
    ``se_calibration`` their ratio (≈ 1 when the SE is right, within about ±1/√(2(r−1))).

    Examples
    --------
    >>> m = snr_synthetic({"dim": 4, "n": 4000, "mean": 0.5, "sigma": 1.0, "repeats": 1}, rng=0)
    >>> m["noise_scale_theory"], abs(m["noise_scale_z"]) < 4
    (4.0, True)
    """
    import numpy as np

    from crossnoise.rng import as_generator
    from crossnoise.snr import SignalNoise

    gen = as_generator(rng)
    d, n, mu, sigma = int(config["dim"]), int(config["n"]), float(config["mean"]), float(config["sigma"])
    repeats = int(config.get("repeats", 1))
    if n * d > 50_000_000:
        raise InputError(f"`n`·`dim` must be at most 50,000,000 (memory); got {n}·{d} = {n * d}.")
    readings = []
    for _ in range(repeats):
        x = gen.normal(loc=mu, scale=sigma, size=(n, d))
        readings.append(SignalNoise.from_samples(x, sample_unit="sample", label="synthetic Gaussian"))
    sn = readings[0]
    out = {k: v for k, v in sn.to_dict().items() if isinstance(v, (int, float)) or v is None}
    ns_theory = sigma**2 / mu**2 if mu != 0 else math.inf
    out |= {
        "noise_scale_theory": ns_theory,
        "snr_theory": n / ns_theory,
        "localization_error_theory": math.sqrt(ns_theory / n),
        "noise_scale_z": ((sn.noise_scale - ns_theory) / sn.noise_scale_se
                          if sn.noise_scale_se and math.isfinite(sn.noise_scale) and math.isfinite(ns_theory)
                          else None),
        "repeats": repeats,
        "n_draws": repeats * n * d,
    }
    if repeats >= 2:
        est = np.array([r.noise_scale for r in readings])
        ses = np.array([r.noise_scale_se if r.noise_scale_se is not None else math.nan for r in readings])
        if np.all(np.isfinite(est)) and np.all(np.isfinite(ses)):
            sd = float(est.std(ddof=1))
            out |= {"repeat_noise_scale_mean": float(est.mean()), "repeat_noise_scale_sd": sd,
                    "repeat_noise_scale_se_mean": float(ses.mean()), "se_calibration": sd / float(ses.mean())}
    return out


register(Experiment(
    name="core.snr-synthetic",
    target="crossnoise.experiments:snr_synthetic",
    params=(
        Param("dim", "int", 8, "dimension d of one sample vector", minimum=1, maximum=100_000),
        Param("n", "int", 1000, "samples averaged in one reading", minimum=3, maximum=50_000_000),
        Param("mean", "float", 0.1, "per-component mean μ (the signal)"),
        Param("sigma", "float", 1.0, "per-component standard deviation σ", minimum=1e-12),
        Param("repeats", "int", 1, "independent readings (≥ 2 also checks the standard error)", minimum=1,
              maximum=10_000),
    ),
    version="1",
    description="Gaussian per-sample vectors measured with SignalNoise, next to the exact noise scale σ²/μ².",
))


# --------------------------------------------------------------------------- domain experiments
# Adapters from a sweep cell (config, rng) to each domain's public functions.  The domains are
# imported inside the functions, so a domain that has not landed makes only its experiments
# unavailable (``Experiment.available``).
def _record_metrics(rec: Any) -> dict[str, Any]:
    """The scalar fields of a SignalNoise summary (vectors dropped)."""
    return {k: v for k, v in rec.to_dict().items() if isinstance(v, (int, float, str)) or v is None}


def bio_pattern(config: Mapping[str, Any], *, rng: Any) -> dict[str, Any]:
    """Positional error of a morphogen boundary: :func:`crossnoise.bio.patterning.pattern`.

    The readout is averaged over ``n_time`` readouts and ``neighbours`` cells on each side; the
    record's localization error is σx in cell diameters (σx = σc/|dc/dx|, Gregor et al. 2007).
    """
    from crossnoise.bio.patterning import pattern
    from crossnoise.bio.presets import get_preset

    preset = get_preset(config["preset"])
    res = pattern(preset, n_embryos=config["n_embryos"], noise=config["noise"] or None, n_time=config["n_time"],
                  neighbours=config["neighbours"], production_scale=config["production_scale"], rng=rng)
    out = {k: v for k, v in res.to_dict().items() if not isinstance(v, (list, dict))}
    out |= _record_metrics(res.record)
    out |= {f"cost_{k}": v for k, v in res.cost.items() if isinstance(v, (int, float))}
    return out


def check_bio(config: Mapping[str, Any]) -> None:
    """The preset name and the noise spec must be ones bio knows."""
    from crossnoise.bio.noise import parse_noise
    from crossnoise.bio.presets import get_preset

    p = get_preset(config["preset"])
    if config["noise"]:
        parse_noise(config["noise"], cell_volume=p.cell_volume, D=p.D, sensor_size=p.sensor_size)


def check_quantum(config: Mapping[str, Any]) -> None:
    """The molecule must be a built-in one."""
    from crossnoise.quantum.molecules import molecule

    molecule(config["molecule"])


def ml_noise_scale(config: Mapping[str, Any], *, rng: Any) -> dict[str, Any]:
    """B_simple = tr Σ/|G|² of a task's model, optionally after ``steps`` of SGD.

    The model is initialised and trained from independent children of ``rng``; G and Σ are those
    of the whole data set (per-example gradients, :func:`crossnoise.ml.noise_scale.gradient_noise_scale`).
    """
    from crossnoise.ml.experiment import single_thread
    from crossnoise.ml.noise_scale import gradient_noise_scale
    from crossnoise.ml.tasks import make_task
    from crossnoise.ml.training import train_sgd
    from crossnoise.rng import spawn

    g_init, g_train = spawn(rng, 2)
    with single_thread():
        task = make_task(config["task"], rng=g_init)
        lr = config["lr"] or task.lr
        final_loss = None
        if config["steps"]:
            tr = train_sgd(task.model, task.loss_fn, task.inputs, task.targets, batch_size=config["batch_size"],
                           lr=lr, steps=config["steps"], rng=g_train)
            final_loss = getattr(tr, "losses", [None])[-1] if getattr(tr, "losses", None) else None
        est = gradient_noise_scale(task.model, task.loss_fn, task.inputs, task.targets,
                                   batch_size=config["batch_size"], label=f"{config['task']} B_simple")
    out = _record_metrics(est.record)
    out |= {"b_simple": est.b_simple, "b_simple_se": est.b_simple_se, "n_params": est.n_params,
            "n_examples": est.n_examples, "backward_examples": est.backward_examples, "lr": lr,
            "final_batch_loss": final_loss}
    return out


def quantum_gradient_snr(config: Mapping[str, Any], *, rng: Any) -> dict[str, Any]:
    """Gradient SNR per shot of a VQE energy: ``repeats`` gradient estimates at B shots each.

    With the exact gradient g (statevector) and the measured covariance of the estimates
    (trace tr S, ddof=1), the variance of ONE shot's worth is :math:`V = B\\,\\operatorname{tr}S`
    (the estimate's variance falls as 1/B), so the record reads the signal g with n = B shots:
    SNR = |g|²/tr S and noise scale = V/|g|² shots (the budget for a gradient SNR of 1).
    """
    import numpy as np

    from crossnoise.quantum.gradients import exact_gradient, plan_for_budget, run_plan
    from crossnoise.quantum.objective import energy_objective
    from crossnoise.rng import as_generator
    from crossnoise.snr import SignalNoise
    from crossnoise.stats import mean_norm_and_trace

    gen = as_generator(rng)
    obj = energy_objective(config["molecule"], layers=config["layers"])
    d = obj.n_params
    theta = np.zeros(d) if config["point"] == "hf" else gen.uniform(-np.pi, np.pi, size=d)
    g = exact_gradient(obj, theta)
    budget, repeats = config["budget"], config["repeats"]
    kwargs = {"c": config["spsa_c"]} if config["method"] == "spsa" else {}
    ests, shots, circuits = [], 0, 0
    for _ in range(repeats):
        plan = plan_for_budget(config["method"], obj.ansatz, theta, budget, rng=gen, **kwargs)
        est = run_plan(obj, plan, rng=gen)
        ests.append(est.gradient)
        shots += est.shots
        circuits += est.circuits
    samples = np.asarray(ests)
    mt = mean_norm_and_trace(samples)
    b_used = shots / repeats
    tr_se = float(np.sqrt(mt.covariance[1, 1]))
    rec = SignalNoise(g, b_used * mt.trace, b_used, "shot", "Ha/rad", per_sample_variance_se=b_used * tr_se,
                      label=f"{config['molecule']} {config['method']} gradient")
    bias = samples.mean(axis=0) - g
    out = _record_metrics(rec)
    out |= {"n_params": d, "exact_gradient_norm": float(np.linalg.norm(g)),
            "bias_norm": float(np.linalg.norm(bias)), "shots_per_gradient": b_used,
            "shots": shots, "circuits": circuits}
    return out


register(Experiment(
    name="bio.pattern",
    target="crossnoise.experiments:bio_pattern",
    requires="crossnoise.bio.patterning",
    check="crossnoise.experiments:check_bio",
    params=(
        Param("preset", "str", "ra-hindbrain", "morphogen system (crossnoise bio presets)"),
        Param("n_embryos", "int", 20_000, "embryos simulated", minimum=3, maximum=10_000_000),
        Param("noise", "str", "", "readout noise spec (poisson, cv:0.1, berg-purcell:60, none); empty: the preset's"),
        Param("n_time", "int", 1, "readouts averaged in time", minimum=1, maximum=10_000),
        Param("neighbours", "int", 0, "neighbouring cells averaged on each side", minimum=0, maximum=100),
        Param("production_scale", "float", 1.0, "multiplies the morphogen source", minimum=1e-6),
    ),
    version="1",
    description="Positional error (cell diameters) of a morphogen threshold boundary, single-shot or averaged.",
))

register(Experiment(
    name="ml.noise-scale",
    target="crossnoise.experiments:ml_noise_scale",
    requires="crossnoise.ml.noise_scale",
    params=(
        Param("task", "str", "digits-mlp", "model and data",
              choices=("digits-mlp", "digits-cnn", "cancer-logreg", "cancer-mlp")),
        Param("batch_size", "int", 32, "batch size B the record describes (and SGD uses)", minimum=1, maximum=100_000),
        Param("steps", "int", 0, "SGD steps before measuring", minimum=0, maximum=1_000_000),
        Param("lr", "float", 0.0, "SGD learning rate (0: the task's default)", minimum=0.0),
    ),
    version="1",
    description="Gradient noise scale B_simple = tr Σ/|G|² of a model, at init or after SGD steps.",
))

register(Experiment(
    name="quantum.gradient-snr",
    target="crossnoise.experiments:quantum_gradient_snr",
    requires="crossnoise.quantum.gradients",
    check="crossnoise.experiments:check_quantum",
    params=(
        Param("molecule", "str", "H2", "built-in molecule (H2, LiH, …)"),
        Param("layers", "int", 1, "hardware-efficient ansatz layers", minimum=1, maximum=20),
        Param("method", "str", "parameter-shift", "gradient estimator", choices=("parameter-shift", "spsa")),
        Param("budget", "int", 1000, "shots per gradient estimate", minimum=2, maximum=100_000_000),
        Param("repeats", "int", 50, "gradient estimates (for their covariance)", minimum=3, maximum=100_000),
        Param("point", "str", "random", "θ: a random point or the Hartree–Fock point", choices=("random", "hf")),
        Param("spsa_c", "float", 0.2, "SPSA perturbation size c", minimum=1e-6),
    ),
    version="1",
    description="Gradient SNR per shot of a VQE energy (parameter shift or SPSA) at a fixed shot budget.",
))
