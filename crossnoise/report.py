"""The cross-domain signal-to-noise report.

Each domain provides a default study, ``crossnoise.<domain>.study.report_study(*, quick, rng,
out_dir, progress) -> DomainStudy`` (:mod:`crossnoise.study`).  :func:`run_report` runs the
studies that exist (a domain whose study module is absent is shown as *missing*, never faked; one
whose study raises is shown as *failed* with the error), records each in the results store, and
:func:`write_report` writes ``index.html`` (self-contained: styles inline, figures embedded as
PNG data URIs) and ``report.md``.

Every record is a :class:`~crossnoise.snr.SignalNoise`; the table puts the three domains on one
scale (DESIGN §1): with per-sample variance V, squared signal :math:`|s|^2` and n samples,

.. math::

    \\mathrm{SNR}(n) = \\frac{n\\,|s|^2}{V} = \\frac{n}{B_{noise}},\\qquad
    \\ell(n) = \\sqrt{\\frac{V}{n\\,|s|^2}} = \\frac{1}{\\sqrt{\\mathrm{SNR}(n)}},

so every reading lies on a line of slope 1 in log SNR against log n, offset by its noise scale —
the cross-domain figure draws these lines one decade either side of each measured reading, with
their ±1 SE bands (further out they assume independent samples, which e.g. SPSA's direction noise
violates; the domains' readings say so).

References
----------
McCandlish, Kaplan, Amodei et al., "An Empirical Model of Large-Batch Training", 2018 (B_simple);
Gregor, Tank, Wieschaus & Bialek, "Probing the limits to positional information", Cell 2007
(positional error σx = σc/|dc/dx|); Sweke et al., "Stochastic gradient descent for hybrid
quantum-classical optimization", Quantum 2020 (shot noise of gradient estimators).
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import contextlib
import datetime as _dt
import html
import math
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from crossnoise.rng import spawn_seeds
from crossnoise.study import DomainStudy, ProgressCallback
from crossnoise.validation import InputError, check_nonnegative_int, check_positive_int, warn_degenerate

__all__ = ["DOMAINS", "DomainOutcome", "Report", "load_study", "run_report", "write_report", "table_rows"]

DOMAINS = ("quantum", "bio", "ml")
"""The domains in report order; each has a fixed child seed (its index here), whichever exist."""

REPORT_VERSION = "1"


@dataclass(frozen=True, slots=True)
class DomainOutcome:
    """One domain in the report: ``status`` is ``"ok"`` (with its study), ``"missing"`` or ``"failed"``."""

    domain: str
    status: str
    study: DomainStudy | None = None
    reason: str = ""
    wall_s: float = 0.0
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """What :func:`run_report` produced: the outcomes, the files, the seed and the cost."""

    outcomes: tuple[DomainOutcome, ...]
    html_path: Path
    markdown_path: Path
    figure_path: Path | None
    seed: int
    quick: bool
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        """The ``crossnoise report --json`` payload."""
        return {
            "domains": [{k: r[k] for k in ("domain", "quantity", "snr", "snr_se", "noise_scale", "noise_scale_se",
                                           "sample_unit", "localization_error", "localization_error_se",
                                           "localization_unit", "n_samples", "signal_unit")}
                        for r in table_rows(self.outcomes) if r["status"] == "ok"],
            "report_path": str(self.html_path),
            "markdown_path": str(self.markdown_path),
            "missing": [o.domain for o in self.outcomes if o.status == "missing"],
            "failed": [{"domain": o.domain, "error": o.reason} for o in self.outcomes if o.status == "failed"],
            "run_ids": {o.domain: o.run_id for o in self.outcomes if o.run_id},
            "seed": self.seed,
            "quick": self.quick,
            "wall_s": self.wall_s,
        }


# --------------------------------------------------------------------------- running the studies
def load_study(domain: str) -> tuple[Callable[..., DomainStudy] | None, str]:
    """The domain's ``report_study``, or None and why it is missing.

    Only the absence of ``crossnoise.<domain>.study`` (or of its ``report_study``) counts as
    missing; any other import error is re-raised, so a broken study shows as failed.
    """
    module = f"crossnoise.{domain}.study"
    try:
        mod = import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name in (module, f"crossnoise.{domain}"):
            return None, f"{module} is not built yet"
        raise
    fn = getattr(mod, "report_study", None)
    if fn is None:
        return None, f"{module} has no report_study yet"
    return fn, ""


def _run_one(domain: str, quick: bool, seed_seq: Any, out_dir: str, queue: Any = None) -> tuple[str, Any, str, float]:
    """Run one domain's study (in this process or a worker); never raises."""
    t0 = time.perf_counter()
    try:
        fn, why = load_study(domain)
        if fn is None:
            return "missing", None, why, 0.0

        def progress(done: int, total: int) -> None:
            if queue is not None:
                queue.put((domain, int(done), int(total)))

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        study = fn(quick=quick, rng=seed_seq, out_dir=Path(out_dir), progress=progress)
        if not isinstance(study, DomainStudy):
            raise TypeError(f"report_study returned {type(study).__name__}, not a DomainStudy")
        if study.domain != domain or not study.records:
            raise ValueError(f"report_study returned domain {study.domain!r} with {len(study.records)} records")
        return "ok", study, "", time.perf_counter() - t0
    except Exception as exc:  # a failing domain is reported, not fatal to the others
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        return "failed", None, f"{type(exc).__name__}: {exc}{where}", time.perf_counter() - t0


class _Direct:
    """In-process stand-in for the progress queue: forwards ``(domain, done, total)`` to a callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def put(self, item: tuple[str, int, int]) -> None:
        if self.callback is not None:
            self.callback(item[1], item[2])


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_children() -> Iterator[None]:
    """Processes started inside inherit one BLAS/OpenMP thread each (set before they import numpy)."""
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: "1" for v in _THREAD_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _validate_report(quick: Any, seed: Any, domains: Sequence[str], jobs: Any) -> tuple[int, tuple[str, ...], int]:
    if not isinstance(quick, bool):
        raise InputError(f"`quick` must be True or False; got {quick!r}.")
    s = check_nonnegative_int(seed, "seed")
    ds = tuple(domains)
    bad = [d for d in ds if d not in DOMAINS]
    if bad or not ds or len(set(ds)) != len(ds):
        raise InputError(f"`domains` must be distinct names among {', '.join(DOMAINS)}; got {', '.join(ds) or 'none'}.")
    return s, ds, check_positive_int(jobs, "jobs")


def run_report(
    *,
    quick: bool = False,
    seed: int = 0,
    out_dir: str | os.PathLike = "crossnoise-report",
    domains: Sequence[str] = DOMAINS,
    jobs: int = 1,
    store: Any = None,
    progress_for: Callable[[str], ProgressCallback] | None = None,
) -> Report:
    """Run each domain's default study, store the results and write the report.

    Parameters
    ----------
    quick : bool
        The studies' quick variants (about a minute in all on 2 cores instead of about five).
    seed : int
        Root seed.  Domain i of :data:`DOMAINS` gets child i of ``SeedSequence(seed)`` whether or
        not the others run, so one domain's numbers do not depend on which others exist.
    out_dir : path
        Folder for ``index.html``, ``report.md`` and each domain's files (``<out_dir>/<domain>/``).
    domains : sequence of str
        Which domains to run (default all).
    jobs : int
        Studies run at once in separate processes (1: one after another in this process).
    store : ResultsStore, optional
        Each finished study is recorded as a run ``report.<domain>`` (replacing the same run id).
    progress_for : callable, optional
        ``progress_for(domain)`` returns that domain's ``progress(done, total)`` callback.

    Returns
    -------
    Report
    """
    seed, doms, jobs = _validate_report(quick, seed, domains, jobs)
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seqs = dict(zip(DOMAINS, spawn_seeds(seed, len(DOMAINS)), strict=True))
    results: dict[str, tuple[str, Any, str, float]] = {}
    callbacks = {d: progress_for(d) if progress_for else None for d in doms}
    present = []
    for d in doms:
        fn, why = (None, "")
        try:
            fn, why = load_study(d)
        except Exception as exc:  # noqa: BLE001 - a broken import is this domain's failure
            results[d] = ("failed", None, f"{type(exc).__name__}: {exc}", 0.0)
            continue
        if fn is None:
            results[d] = ("missing", None, why, 0.0)
        else:
            present.append(d)
    if not present:
        warn_degenerate("no domain study could run (all missing or failed to import); the report shows only that.")
    if jobs == 1 or len(present) <= 1:
        for d in present:
            results[d] = _run_one(d, quick, seqs[d], str(out / d), _Direct(callbacks[d]))
    else:
        results.update(_run_parallel(present, quick, seqs, out, jobs, callbacks))
    outcomes = []
    for d in doms:
        status, study, reason, wall = results[d]
        rid = _record(store, d, study, seed, quick, wall) if (store is not None and status == "ok") else None
        outcomes.append(DomainOutcome(d, status, study, reason, wall, rid))
    html_path, md_path, fig = write_report(outcomes, out, seed=seed, quick=quick, wall_s=time.perf_counter() - t0)
    return Report(tuple(outcomes), html_path, md_path, fig, seed, quick, time.perf_counter() - t0)


def _run_parallel(present: list[str], quick: bool, seqs: Mapping[str, Any], out: Path, jobs: int,
                  callbacks: Mapping[str, ProgressCallback | None]) -> dict[str, tuple[str, Any, str, float]]:
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, tuple[str, Any, str, float]] = {}
    with ctx.Manager() as manager:
        queue = manager.Queue()
        stop = threading.Event()

        def pump() -> None:
            while not stop.is_set() or not queue.empty():
                try:
                    d, done, total = queue.get(timeout=0.2)
                except Exception:  # noqa: BLE001 - queue.Empty from the manager proxy
                    continue
                cb = callbacks.get(d)
                if cb is not None:
                    cb(done, total)

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        try:
            with cf.ProcessPoolExecutor(max_workers=min(jobs, len(present)), mp_context=ctx) as pool:
                with _one_thread_children():  # the workers are spawned by these submits
                    futs = {pool.submit(_run_one, d, quick, seqs[d], str(out / d), queue): d for d in present}
                for fut in cf.as_completed(futs):
                    d = futs[fut]
                    try:
                        results[d] = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a crashed worker process
                        results[d] = ("failed", None, f"{type(exc).__name__}: {exc}", 0.0)
        finally:
            stop.set()
            thread.join(timeout=5)
    return results


def _record(store: Any, domain: str, study: DomainStudy, seed: int, quick: bool, wall: float) -> str:
    from crossnoise.store import RunRecord, code_version, run_id, utc_now

    config = {"quick": quick, **study.config}
    version = code_version(f"report-{REPORT_VERSION}", ("crossnoise.report", f"crossnoise.{domain}"))
    rid = run_id(f"report.{domain}", config, seed, version)
    metrics = {"records": [r.to_dict() for r in study.records], "localization_unit": study.localization_unit,
               "reading": study.reading, "cost": dict(study.cost)}
    now = utc_now()
    started = (_dt.datetime.fromisoformat(now) - _dt.timedelta(seconds=wall)).isoformat(timespec="microseconds")
    store.record(RunRecord(rid, f"report.{domain}", config, seed, version, "ok", metrics,
                           tuple(str(p) for p in [study.figure] if p is not None), None, "report",
                           started_at=started, finished_at=now, wall_s=wall), replace_ok=True)
    return rid


# --------------------------------------------------------------------------- the table
def table_rows(outcomes: Sequence[DomainOutcome]) -> list[dict[str, Any]]:
    """One row per SignalNoise record (and one per missing or failed domain)."""
    rows = []
    for o in outcomes:
        if o.status != "ok" or o.study is None:
            rows.append({"domain": o.domain, "status": o.status, "quantity": o.reason})
            continue
        for r in o.study.records:
            s2 = r.signal_norm_sq
            rows.append({
                "domain": o.domain, "status": "ok", "quantity": r.label or "(unlabelled)",
                "signal": math.sqrt(s2) if s2 > 0 else 0.0,
                "signal_se": (r.signal_norm_sq_se / (2 * math.sqrt(s2))) if (r.signal_norm_sq_se and s2 > 0) else None,
                "signal_unit": r.signal_unit,
                "per_sample_noise": math.sqrt(r.per_sample_variance),
                "n_samples": r.n_samples, "sample_unit": r.sample_unit,
                "snr": r.snr, "snr_se": r.snr_se,
                "noise_scale": r.noise_scale, "noise_scale_se": r.noise_scale_se,
                "localization_error": r.localization_error, "localization_error_se": r.localization_error_se,
                "localization_unit": o.study.localization_unit,
            })
    return rows


def _num(x: Any, se: Any = None) -> str:
    if x is None:
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞ (no detectable signal)" if x > 0 else "−∞"
    text = f"{x:.4g}"
    if se is not None and isinstance(se, (int, float)) and math.isfinite(se):
        text += f" ± {se:.2g}"
    return text


def _cells(row: Mapping[str, Any]) -> list[str]:
    if row["status"] != "ok":
        return [row["domain"], f"{row['status']}: {row['quantity']}"] + [""] * 6
    unit = f" {row['signal_unit']}" if row["signal_unit"] else ""
    return [row["domain"], row["quantity"], _num(row["signal"], row["signal_se"]) + unit,
            _num(row["per_sample_noise"]) + unit, f"{_num(row['n_samples'])} {row['sample_unit']}",
            _num(row["snr"], row["snr_se"]), f"{_num(row['noise_scale'], row['noise_scale_se'])} {row['sample_unit']}",
            f"{_num(row['localization_error'], row['localization_error_se'])} {row['localization_unit']}"]


def _cell_parts(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, unit) per column of an ``ok`` row, for the HTML table."""
    return [(row["domain"], ""), (row["quantity"], ""), (_num(row["signal"], row["signal_se"]), row["signal_unit"]),
            (_num(row["per_sample_noise"]), row["signal_unit"]), (_num(row["n_samples"]), row["sample_unit"]),
            (_num(row["snr"], row["snr_se"]), ""), (_num(row["noise_scale"], row["noise_scale_se"]), row["sample_unit"]),
            (_num(row["localization_error"], row["localization_error_se"]), row["localization_unit"])]


def _html_cell(i: int, part: tuple[str, str]) -> str:
    value, unit = (html.escape(x) for x in part)
    return (f"<td class='num'>{value}" + (f"<div class='unit'>{unit}</div>" if unit else "") + "</td>") if i >= 2 \
        else f"<td>{value}</td>"


HEADERS = ["domain", "quantity", "signal |s|", "per-sample noise √V", "n", "SNR", "noise scale", "localization error"]


def _reading(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain sentences generated from the measured numbers: one per domain."""
    out = []
    by_domain: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["status"] == "ok":
            by_domain.setdefault(r["domain"], []).append(r)
    for domain, rs in by_domain.items():
        finite = [r for r in rs if math.isfinite(r["noise_scale"])]
        unit = rs[0]["sample_unit"]
        if not finite:
            out.append(f"{domain}: no signal was detectable above the noise in any of its {len(rs)} readings.")
            continue
        lo = min(finite, key=lambda r: r["noise_scale"])
        hi = max(finite, key=lambda r: r["noise_scale"])
        scale = (f"a noise scale of {_num(lo['noise_scale'], lo['noise_scale_se'])} {unit}s" if len(finite) == 1 else
                 f"noise scales from {_num(lo['noise_scale'], lo['noise_scale_se'])} ({lo['quantity']}) to "
                 f"{_num(hi['noise_scale'], hi['noise_scale_se'])} {unit}s ({hi['quantity']})")
        above = [r for r in rs if r["snr"] > 1]
        out.append(f"{domain}: {len(rs)} reading{'s' if len(rs) > 1 else ''} with {scale}; "
                   f"{len(above)} of {len(rs)} are read with more {unit}s than their noise scale (SNR > 1)"
                   + (f", the best at SNR {_num(max(above, key=lambda r: r['snr'])['snr'])}" if above else "")
                   + f"; localization errors run from {_num(min(r['localization_error'] for r in rs))} to "
                   f"{_num(max(r['localization_error'] for r in rs))} {rs[0]['localization_unit']}.")
    if len(by_domain) > 1:
        out.append("Across domains every record reads its signal with the same model: the SNR grows linearly with "
                   "the samples averaged and equals 1 at the noise scale; only the unit of a sample and the size of "
                   "the noise scale differ. The model holds where the samples are independent — each domain's own "
                   "reading below says where it does not (a noise part that does not average down).")
    return out


# --------------------------------------------------------------------------- the cross-domain figure
def _law_figure(rows: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """log SNR against log n for every record: lines of slope 1 offset by the noise scale."""
    ok = [r for r in rows if r["status"] == "ok" and math.isfinite(r["noise_scale"]) and r["noise_scale"] > 0]
    if not ok:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    colors = {"quantum": "tab:purple", "bio": "tab:green", "ml": "tab:orange"}
    styles = ["-", "--", ":", "-."]  # line style: the reading within its domain
    seen: dict[str, int] = {}
    lo, hi = math.inf, 0.0
    for r in ok:
        k = seen[r["domain"]] = seen.get(r["domain"], -1) + 1
        c = colors.get(r["domain"], "tab:blue")
        b, n0 = r["noise_scale"], r["n_samples"]
        # the record's model SNR = n/B, drawn one decade either side of the measured reading only:
        # it is a local statement (a noise part that does not average down, e.g. SPSA's random
        # direction, breaks it further out — the domain's reading says so)
        n = np.geomspace(n0 / 10, n0 * 10, 50)
        lo, hi = min(lo, n[0], b), max(hi, n[-1], b)
        label = f"{r['domain']} (n in {r['sample_unit']}s)" if k == 0 else None
        ax.plot(n, n / b, styles[k % 4], color=c, lw=1.2, label=label)
        se = r["noise_scale_se"]
        if se is not None and math.isfinite(se) and se < b:
            ax.fill_between(n, n / (b + se), n / (b - se), color=c, alpha=0.12, lw=0)
        ax.plot([n0], [n0 / b], "o", color=c, ms=6)
        ax.plot([b], [1.0], "|", color=c, ms=10, mew=1.5)
    ax.axhline(1.0, color="0.4", lw=0.8)
    ax.text(lo * 1.3, 1.15, "SNR = 1 (ticks: each reading's noise scale)", fontsize=8, color="0.3")
    ax.set(xscale="log", yscale="log", xlabel="samples averaged n (each domain's own unit)",
           ylabel="SNR = n |s|² / V",
           title="SNR = n / noise scale around each measured reading (dots)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- writing
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;width:100%;font-size:.88em;margin:1em 0}
th,td{border:1px solid #ccc;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.missing td,tr.failed td{color:#a33;font-style:italic}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
.unit{color:#777;font-size:.85em;white-space:normal}
.reading{background:#f8f8f4;border-left:4px solid #bb9;padding:.5em 1em}
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def write_report(outcomes: Sequence[DomainOutcome], out_dir: str | os.PathLike, *, seed: int, quick: bool,
                 wall_s: float) -> tuple[Path, Path, Path | None]:
    """Write ``index.html`` (self-contained) and ``report.md``; return their paths and the cross-domain figure."""
    from crossnoise import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = table_rows(outcomes)
    law = _law_figure(rows, out / "snr_law.png")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = (f"crossnoise {__version__} · seed {seed} · {'quick' if quick else 'default'} studies · "
            f"{wall_s:.0f} s · {stamp}")
    sentences = _reading(rows)
    e = html.escape
    h = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
         "<title>crossnoise — cross-domain signal-to-noise report</title>", f"<style>{_CSS}</style></head><body>",
         "<h1>crossnoise — cross-domain signal-to-noise report</h1>", f"<p class='meta'>{e(meta)}</p>",
         "<p>Every row is one reading of a signal through noise that averages down over n samples: "
         "SNR = n|s|²/V, noise scale = V/|s|² (the samples that bring the SNR to 1), localization error = "
         "√(V/n)/|s|. Uncertainties are ± one standard error.</p>",
         "<h2>Cross-domain table</h2>", "<table id='cross-domain'><thead><tr>"
         + "".join(f"<th>{e(c)}</th>" for c in HEADERS) + "</tr></thead><tbody>"]
    for row in rows:
        cells = _cells(row)
        if row["status"] == "ok":
            h.append("<tr class='ok'>" + "".join(_html_cell(i, c) for i, c in enumerate(_cell_parts(row))) + "</tr>")
        else:
            h.append(f"<tr class='{row['status']}'><td>{e(cells[0])}</td><td colspan='7'>{e(cells[1])}</td></tr>")
    h.append("</tbody></table>")
    if sentences:
        h.append("<div class='reading'><p>" + "</p><p>".join(e(s) for s in sentences) + "</p></div>")
    if law is not None:
        h.append(f"<figure id='fig-law'><img alt='SNR against samples for every reading' src='{_data_uri(law)}'>"
                 "<figcaption>Each reading's SNR(n) = n/B with its ±1 SE band, drawn one decade either side of "
                 "the measured reading (dot); the tick on SNR = 1 is its noise scale B. Further out the straight "
                 "line is an extrapolation that assumes independent samples.</figcaption></figure>")
    md = ["# crossnoise — cross-domain signal-to-noise report", "", f"_{meta}_", "",
          "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |")
    md += [""] + [f"- {s}" for s in sentences] + [""]
    if law is not None:
        md += [f"![SNR against samples]({law.name})", ""]
    for o in outcomes:
        h.append(f"<h2 id='domain-{e(o.domain)}'>{e(o.domain)}</h2>")
        md += [f"## {o.domain}", ""]
        if o.status != "ok" or o.study is None:
            h.append(f"<p class='{o.status}'><em>{e(o.status)}: {e(o.reason)}</em></p>")
            md += [f"_{o.status}: {o.reason}_", ""]
            continue
        st = o.study
        if st.figure is not None and Path(st.figure).is_file():
            h.append(f"<figure id='fig-{e(o.domain)}'><img alt='{e(o.domain)} headline figure' "
                     f"src='{_data_uri(Path(st.figure))}'><figcaption>{e(o.domain)}: headline figure</figcaption></figure>")
            md += [f"![{o.domain} headline figure]({os.path.relpath(st.figure, out)})", ""]
        else:
            h.append("<p class='failed'><em>no headline figure was produced</em></p>")
            md += ["_no headline figure was produced_", ""]
        h.append(f"<div class='reading'><p>{e(st.reading)}</p></div>")
        md += [st.reading, ""]
        cost = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in st.cost.items())
        h.append(f"<p class='meta'>cost: {e(cost) or '—'} · wall {o.wall_s:.1f} s"
                 + (f" · stored as run {e(o.run_id)}" if o.run_id else "") + "</p>")
        md += [f"_cost: {cost or '—'} · wall {o.wall_s:.1f} s" + (f" · run {o.run_id}" if o.run_id else "") + "_", ""]
    h.append("</body></html>")
    html_path, md_path = out / "index.html", out / "report.md"
    html_path.write_text("\n".join(h))
    md_path.write_text("\n".join(md))
    return html_path, md_path, law
