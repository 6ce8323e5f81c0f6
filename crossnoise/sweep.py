"""Parameter sweeps: a TOML file names an experiment, a grid and seeds; dask.distributed runs the cells.

A sweep file::

    [sweep]
    name = "quick"                       # optional, defaults to the file name
    experiment = "core.snr-synthetic"    # a name from crossnoise.experiments
    seeds = [0, 1, 2]                    # a list of seeds, or a count (seeds 0..count-1)
    retries = 1                          # optional: dask retries per cell

    [fixed]                              # optional: parameters held fixed
    dim = 8

    [grid]                               # every combination of these values, times every seed
    n = [100, 1000]
    mean = [0.05, 0.1, 0.2]

expands into cells (config, seed), each with the run id of :func:`crossnoise.store.run_id`.
:func:`run_sweep` skips the cells whose id is already stored as ``ok``, submits the rest to a
dask cluster (a ``LocalCluster`` of single-threaded worker processes, or an existing scheduler)
and records each result as it streams back: the client is the only writer to the store, and each
cell is one transaction, so a sweep stopped at any point (Ctrl-C, a killed client) keeps every
finished cell and its re-run computes only the missing ones.  A lost worker's cells are
rescheduled by dask on the remaining workers.

Reference: dask.distributed documentation, "Futures" and "Resilience"
(https://distributed.dask.org/en/stable/resilience.html).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import socket
import time
import tomllib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossnoise.experiments import Experiment, get_experiment
from crossnoise.store import ResultsStore, RunRecord, code_version, run_id, utc_now
from crossnoise.validation import (
    InputError,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    warn_degenerate,
)

__all__ = ["Cell", "SweepSpec", "SweepResult", "load_sweep", "parse_sweep", "run_sweep", "run_cell"]

CONNECT_TIMEOUT_S = 5.0
WORKER_WAIT_S = 30.0
_SECTIONS = {"sweep": ("name", "experiment", "seeds", "retries", "description"), "grid": None, "fixed": None}


@dataclass(frozen=True, slots=True)
class Cell:
    """One point of a sweep: a full config, a seed and the run id they determine."""

    id: str
    config: dict[str, Any]
    seed: int


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """A parsed, checked sweep file."""

    name: str
    experiment: str
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    fixed: dict[str, Any]
    seeds: tuple[int, ...]
    retries: int = 0
    description: str = ""
    path: str | None = None

    def cells(self) -> list[Cell]:
        """All cells in a fixed order (grid in file order, last key fastest; seeds innermost), de-duplicated."""
        exp = get_experiment(self.experiment)
        version = code_version(exp.version, exp.source_modules)
        keys = [k for k, _ in self.grid]
        out: dict[str, Cell] = {}
        n_points = 0
        for values in itertools.product(*(v for _, v in self.grid)):
            config = exp.resolve_config(self.fixed | dict(zip(keys, values, strict=True)))
            for seed in self.seeds:
                rid = run_id(exp.name, config, seed, version)
                n_points += 1
                out.setdefault(rid, Cell(rid, config, seed))
        if len(out) < n_points:
            warn_degenerate(f"sweep {self.name}: {n_points - len(out)} of {n_points} cells repeat another cell "
                            f"(equal grid values); each is run once.", stacklevel=2)
        return list(out.values())


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep did: cells in total, skipped (already stored), computed, failed, and its cost.

    ``interrupted`` is True when it was stopped (Ctrl-C) before every cell ran; ``remaining``
    cells were neither stored nor failed, and a re-run computes exactly those.
    """

    name: str
    experiment: str
    total: int
    skipped: int
    computed: int
    failed: int
    remaining: int
    interrupted: bool
    wall_s: float
    workers: int
    scheduler: str
    db: str
    failures: tuple[tuple[str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if k != "failures"} | {
            "failures": [{"id": i, "error": e} for i, e in self.failures]}


# --------------------------------------------------------------------------- parsing
def _key_line(text: str, table: str | None, key: str | None) -> int | None:
    """1-based line of ``key`` in ``[table]`` (or of the table header when key is None)."""
    current = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        m = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if m:
            current = m.group(1).strip().strip('"')
            if key is None and current == table:
                return lineno
            continue
        if key is not None and current == table and re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
            return lineno
    return None


def _where(name: str, text: str, table: str | None, key: str | None) -> str:
    line = _key_line(text, table, key)
    what = f"[{table}]" + (f" {key}" if key else "") if table else str(key)
    return f"sweep file {name}, line {line}, {what}" if line else f"sweep file {name}, {what}"


def _malformed(text: str, name: str, msg: str) -> str:
    """A TOML syntax error with its line and the key (and table) being defined there."""
    lines = text.splitlines()
    m = re.search(r"at line (\d+)", msg)
    line = int(m.group(1)) if m else len(lines)
    table, key = None, None
    for raw in lines[:line][::-1]:
        stripped = raw.strip()
        if key is None and (km := re.match(r'^"?([A-Za-z0-9_.-]+)"?\s*=', stripped)):
            key = km.group(1)
        if (tm := re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)):
            table = tm.group(1)
            break
    what = (f", [{table}]" if table else "") + (f" {key}" if key else "")
    return f"sweep file {name}, line {line}{what}: malformed TOML: {msg}."


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read and check a TOML sweep file (see the module docstring for the format)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"`FILE` must be a readable sweep file (.toml); got {str(p)!r} (not found).")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"`FILE` must be a readable UTF-8 TOML file; {str(p)!r} could not be read ({exc}).") from None
    return parse_sweep(text, name=p.name, path=str(p))


def parse_sweep(text: str, *, name: str = "<sweep>", path: str | None = None) -> SweepSpec:
    """Parse sweep TOML text; every error names the file, the line and the key."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(_malformed(text, name, str(exc))) from None
    for table in doc:
        if table not in _SECTIONS:
            line = _key_line(text, table, None) or _key_line(text, None, table)
            raise InputError(f"sweep file {name}{f', line {line}' if line else ''}: unknown table or key "
                             f"{table!r}; valid tables: [sweep], [grid], [fixed].")
        if not isinstance(doc[table], dict):
            raise InputError(f"{_where(name, text, None, table)}: must be a table ([{table}]); got {doc[table]!r}.")
    if "sweep" not in doc:
        raise InputError(f"sweep file {name}: missing the [sweep] table (with `experiment` and `seeds`).")
    head = doc["sweep"]
    for key in head:
        if key not in _SECTIONS["sweep"]:
            raise InputError(f"{_where(name, text, 'sweep', key)}: unknown key; valid keys: "
                             f"{', '.join(_SECTIONS['sweep'])}.")
    for key in ("experiment", "seeds"):
        if key not in head:
            raise InputError(f"{_where(name, text, 'sweep', None)}: missing key `{key}`.")
    if not isinstance(head["experiment"], str):
        raise InputError(f"{_where(name, text, 'sweep', 'experiment')}: must be a string; got {head['experiment']!r}.")
    try:
        exp = get_experiment(head["experiment"])
    except InputError as exc:
        raise InputError(f"{_where(name, text, 'sweep', 'experiment')}: {exc}") from None
    seeds = _parse_seeds(head["seeds"], _where(name, text, "sweep", "seeds"))
    retries = head.get("retries", 0)
    try:
        retries = check_nonnegative_int(retries, "retries")
    except InputError as exc:
        raise InputError(f"{_where(name, text, 'sweep', 'retries')}: {exc}") from None
    sweep_name = head.get("name", Path(name).stem)
    if not isinstance(sweep_name, str) or not sweep_name:
        raise InputError(f"{_where(name, text, 'sweep', 'name')}: must be a non-empty string; got {sweep_name!r}.")
    fixed = dict(doc.get("fixed", {}))
    grid_doc = dict(doc.get("grid", {}))
    grid: list[tuple[str, tuple[Any, ...]]] = []
    for table, entries in (("fixed", fixed), ("grid", grid_doc)):
        for key, value in entries.items():
            where = _where(name, text, table, key)
            if key not in exp.param_names:
                raise InputError(f"{where}: {key!r} is not a parameter of {exp.name}; valid parameters: "
                                 f"{', '.join(p.describe() for p in exp.params)}.")
            if table == "grid" and (not isinstance(value, list) or not value):
                raise InputError(f"{where}: a grid entry must be a non-empty list of values; got {value!r}.")
            param = next(p for p in exp.params if p.name == key)
            values = value if table == "grid" else [value]
            try:
                checked = tuple(param.check(v, f"{table}.{key}") for v in values)
                for v in checked:  # the experiment's own check (names of presets, molecules, …)
                    exp.check_config(exp.resolve_config({key: v}))
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
            if table == "grid":
                grid.append((key, checked))
            else:
                fixed[key] = checked[0]
    both = set(fixed) & set(grid_doc)
    if both:
        key = sorted(both)[0]
        raise InputError(f"{_where(name, text, 'grid', key)}: {key!r} is both fixed and in the grid; keep one.")
    description = head.get("description", "")
    return SweepSpec(sweep_name, exp.name, tuple(grid), fixed, seeds, retries, str(description), path)


def _parse_seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise InputError(f"{where}: a seed count must be a positive integer; got {value}.")
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                 for s in value):
        if len(set(value)) != len(value):
            raise InputError(f"{where}: seeds must be distinct; got {value!r}.")
        return tuple(value)
    raise InputError(f"{where}: must be a positive count or a non-empty list of non-negative integer seeds; "
                     f"got {value!r}.")


# --------------------------------------------------------------------------- running
def run_cell(experiment: str, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Run one cell (on a worker): the experiment's metrics with where and when it ran.

    Raises whatever the experiment raises, so dask can retry the cell.
    """
    exp = get_experiment(experiment)
    started = utc_now()
    t0 = time.perf_counter()
    metrics = exp.run(config, rng=int(seed))
    wall = time.perf_counter() - t0
    artifacts = [str(a) for a in metrics.pop("artifacts", [])]
    return {"metrics": metrics, "artifacts": artifacts, "host": socket.gethostname(), "pid": os.getpid(),
            "started_at": started, "finished_at": utc_now(), "wall_s": wall}


def _validate_run(workers: Any, retries: Any, scheduler: Any) -> tuple[int | None, int]:
    w = None if workers is None else check_positive_int(workers, "workers")
    r = check_nonnegative_int(retries, "retries")
    if scheduler is not None:
        address = scheduler if isinstance(scheduler, str) and "://" in scheduler else f"tcp://{scheduler}"
        if not isinstance(scheduler, str) or not re.fullmatch(
                r"(tcp|tls)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):\d{1,5}", address):
            raise InputError(f"`scheduler` must be an address tcp://HOST:PORT (or tls://HOST:PORT, or HOST:PORT); "
                             f"got {scheduler!r}.")
    return w, r


def _connect(scheduler: str | None, workers: int | None, timeout: float):
    """A dask Client (and the LocalCluster it owns, or None)."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        n = workers or max(1, os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        try:
            return Client(cluster, timeout=timeout), cluster
        except BaseException:
            cluster.close()
            raise
    address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    t0 = time.monotonic()
    try:
        client = Client(address, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, or something that is not a dask scheduler
        detail = str(exc).splitlines()[0][:160] if str(exc) else ""
        if not isinstance(exc, (OSError, TimeoutError)):
            detail = f"something answered, but not as a dask scheduler: {detail}"
        raise InputError(f"`scheduler`: could not connect to a dask scheduler at {scheduler!r} within "
                         f"{max(time.monotonic() - t0, 0.0):.0f} s ({type(exc).__name__}: {detail}).") from None
    return client, None


def run_sweep(
    spec: SweepSpec,
    *,
    store: ResultsStore,
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> SweepResult:
    """Run the missing cells of ``spec`` on dask and record each one in ``store`` as it finishes.

    Parameters
    ----------
    spec : SweepSpec
        From :func:`load_sweep`.
    store : ResultsStore
        Opened for writing; this process is its only writer.
    scheduler : str, optional
        Address of an existing dask scheduler (``tcp://host:8786``); None starts a LocalCluster.
    workers : int, optional
        LocalCluster worker processes (one thread each); default: the number of CPUs.
    retries : int, optional
        Times dask re-runs a cell that raised (default: the file's ``retries``).  A cell that
        still fails is stored with status ``failed`` and recomputed by the next run.
    progress : callable, optional
        ``progress(done, total)``, counting skipped cells as done.
    connect_timeout : float
        Seconds to wait for the scheduler.

    Returns
    -------
    SweepResult
        Counts and cost.  A KeyboardInterrupt stops the sweep cleanly: running cells are
        cancelled, everything finished is kept, and the result says ``interrupted``.
    """
    w, r = _validate_run(workers, spec.retries if retries is None else retries, scheduler)
    check_positive_float(connect_timeout, "connect_timeout")
    t0 = time.perf_counter()
    exp: Experiment = get_experiment(spec.experiment)
    cells = spec.cells()
    done = store.done_ids(c.id for c in cells)
    todo = [c for c in cells if c.id not in done]
    total = len(cells)
    version = code_version(exp.version, exp.source_modules)
    computed, failures, interrupted, n_workers, where = 0, [], False, 0, "none"
    if todo:
        exp.function()  # fail here, not in every cell, if the experiment's domain is missing
        client, cluster = _connect(scheduler, w, connect_timeout)
        where = scheduler or "LocalCluster"
        if progress is not None:
            progress(len(done), total)
        futures = []
        try:
            from distributed import as_completed

            if cluster is None:
                try:
                    client.wait_for_workers(1, timeout=WORKER_WAIT_S)
                except TimeoutError:
                    raise InputError(f"`scheduler` {scheduler!r} has no workers (waited {WORKER_WAIT_S:g} s); "
                                     f"start some with `dask worker {scheduler}`.") from None
            n_workers = len(client.scheduler_info().get("workers", {}))
            by_key = {}
            for cell in todo:
                fut = client.submit(run_cell, exp.name, cell.config, cell.seed, key=f"crossnoise-cell-{cell.id}",
                                    retries=r, pure=False)
                by_key[fut.key] = cell
                futures.append(fut)
            for fut in as_completed(futures):
                cell = by_key[fut.key]
                if fut.status == "finished":
                    out = fut.result()
                    store.record(RunRecord(cell.id, exp.name, cell.config, cell.seed, version, "ok", out["metrics"],
                                           tuple(out["artifacts"]), None, spec.name, out["host"], out["started_at"],
                                           out["finished_at"], float(out["wall_s"])))
                    computed += 1
                elif fut.status == "error":
                    exc = fut.exception()
                    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    now = utc_now()
                    store.record(RunRecord(cell.id, exp.name, cell.config, cell.seed, version, "failed", {}, (),
                                           msg, spec.name, socket.gethostname(), now, now, 0.0))
                    failures.append((cell.id, msg))
                if progress is not None:
                    progress(len(done) + computed + len(failures), total)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()
            client.close(timeout=5)
            if cluster is not None:
                cluster.close(timeout=5)
    if progress is not None and not todo:
        progress(total, total)
    # Count from the store, not the loop: a Ctrl-C between a commit and `computed += 1` is still stored.
    computed = len(store.done_ids(c.id for c in cells)) - len(done)
    remaining = total - len(done) - computed - len(failures)
    return SweepResult(spec.name, exp.name, total, len(done), computed, len(failures), remaining, interrupted,
                       time.perf_counter() - t0, n_workers, where, str(store.path), tuple(failures))
