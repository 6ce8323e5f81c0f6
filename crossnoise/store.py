"""The results store: one SQLite file (standard library), one row per run.

A *run* is one experiment evaluated at one configuration and one seed.  Its id is derived from
what determines its numbers,

.. math::

    \\mathrm{id} = \\mathrm{sha256}(\\text{experiment} \\,\\|\\, \\text{canonical config}
                   \\,\\|\\, \\text{seed} \\,\\|\\, \\text{code version})[:16],

so the same cell computed twice has the same id and a re-run of a sweep can skip it.  The
canonical config is JSON with sorted keys and no whitespace (:func:`canonical_config`).

Each run is written in ONE transaction (a single ``INSERT``): it is recorded whole or not at
all, even when the writing process is killed mid-sweep (SQLite's atomic commit; the database is
in WAL mode so readers never block the writer).  Only one process writes: the sweep's client or
the report.  A finished run (``status='ok'``) is never replaced by a sweep; a failed one is, when
it is recomputed.

The default location is ``./crossnoise-results/results.sqlite``; ``CROSSNOISE_DB`` or ``--db``
choose another.  A file that is not a crossnoise results database (corrupt, or another
program's SQLite file) and a database locked by another process raise :class:`StoreError`, an
:class:`~crossnoise.validation.InputError` (exit code 2 on the command line); nothing is
overwritten.

References
----------
SQLite, "Atomic Commit In SQLite" and "Write-Ahead Logging", https://sqlite.org/atomiccommit.html,
https://sqlite.org/wal.html.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import socket
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossnoise.validation import InputError, check_positive_float

__all__ = [
    "DEFAULT_DB",
    "ENV_DB",
    "RunRecord",
    "ResultsStore",
    "StoreError",
    "canonical_config",
    "code_version",
    "source_digest",
    "resolve_db_path",
    "run_id",
    "utc_now",
    "EXPORT_FORMATS",
    "export_runs",
    "flatten_run",
]

DEFAULT_DB = Path("crossnoise-results") / "results.sqlite"
ENV_DB = "CROSSNOISE_DB"
SCHEMA_VERSION = 1
STATUSES = ("ok", "failed")
_BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS crossnoise_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id            TEXT PRIMARY KEY,
    experiment    TEXT NOT NULL,
    config        TEXT NOT NULL,
    seed          INTEGER NOT NULL,
    code_version  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    metrics       TEXT NOT NULL,
    artifacts     TEXT NOT NULL,
    error         TEXT,
    sweep         TEXT,
    host          TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL,
    wall_s        REAL NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs (sweep);
"""
_COLUMNS = ("id", "experiment", "config", "seed", "code_version", "status", "metrics", "artifacts", "error",
            "sweep", "host", "started_at", "finished_at", "wall_s", "recorded_at")


class StoreError(InputError):
    """The results database cannot be used (missing, corrupt, foreign or locked)."""


# ---------------------------------------------------------------------------------------- ids
def _jsonable(value: Any) -> Any:
    """Plain JSON types; numpy scalars/arrays → Python; non-finite floats → None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def canonical_config(config: Mapping[str, Any]) -> str:
    """The config as canonical JSON: sorted keys, no whitespace, integral floats as ints.

    ``{"b": 2.0, "a": 1}`` and ``{"a": 1, "b": 2}`` give the same text, so the same cell written
    in two sweep files has the same run id.

    Examples
    --------
    >>> canonical_config({"b": 2.0, "a": [1, 0.5]})
    '{"a":[1,0.5],"b":2}'
    """

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return int(v)
        return v

    return json.dumps(norm(_jsonable(dict(config))), sort_keys=True, separators=(",", ":"), allow_nan=False)


def source_digest(modules: Sequence[str]) -> str:
    """12 hex digits of sha256 over the source of ``modules`` (a package: every ``.py`` below it).

    Enters the code version, so a stored run is reused only by the same code: an edit to the
    experiment, its domain or the core gives new run ids (and recomputation), never stale numbers.
    Modules that cannot be found contribute their name only.
    """
    import importlib.util

    h = hashlib.sha256()
    for name in sorted(set(modules)):
        h.update(name.encode())
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        if spec.submodule_search_locations:  # a package: all of its .py files
            files = sorted(f for loc in spec.submodule_search_locations for f in Path(loc).rglob("*.py"))
        elif spec.origin and spec.origin.endswith(".py"):
            files = [Path(spec.origin)]
        else:
            files = []
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


CORE_MODULES = ("crossnoise.snr", "crossnoise.stats", "crossnoise.rng", "crossnoise.validation", "crossnoise.study")


def code_version(experiment_version: str | int = "1", modules: Sequence[str] = ()) -> str:
    """The code version that enters a run's id: package version, experiment version and, when
    ``modules`` are given, :func:`source_digest` of them and the core."""
    from crossnoise import __version__

    text = f"crossnoise-{__version__}/exp-{experiment_version}"
    return f"{text}/src-{source_digest((*CORE_MODULES, *modules))}" if modules else text


def run_id(experiment: str, config: Mapping[str, Any], seed: int, version: str) -> str:
    """16 hex digits of sha256 over (experiment, canonical config, seed, code version)."""
    text = "\x1f".join((experiment, canonical_config(config), str(int(seed)), version))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """``db`` if given, else ``$CROSSNOISE_DB``, else ``./crossnoise-results/results.sqlite``."""
    if db is not None and str(db) != "":
        return Path(db)
    env = os.environ.get(ENV_DB)
    return Path(env) if env else DEFAULT_DB


# ---------------------------------------------------------------------------------------- record
@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as stored: what was computed, what came out, where and when.

    ``metrics`` and ``config`` are JSON-able dicts (non-finite floats are stored as ``null``);
    ``artifacts`` are file paths the run wrote; ``wall_s`` is its cost in wall-clock seconds.
    """

    id: str
    experiment: str
    config: dict[str, Any]
    seed: int
    code_version: str
    status: str
    metrics: dict[str, Any]
    artifacts: tuple[str, ...] = ()
    error: str | None = None
    sweep: str | None = None
    host: str = field(default_factory=socket.gethostname)
    started_at: str = ""
    finished_at: str = ""
    wall_s: float = 0.0
    recorded_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {name: (list(v) if isinstance(v, tuple) else v)
                for name in _COLUMNS for v in [getattr(self, name)]}

    @classmethod
    def _from_row(cls, row: Sequence[Any]) -> RunRecord:
        d = dict(zip(_COLUMNS, row, strict=True))
        d["config"] = json.loads(d["config"])
        d["metrics"] = json.loads(d["metrics"])
        d["artifacts"] = tuple(json.loads(d["artifacts"]))
        return cls(**d)


def _validate_record(rec: RunRecord) -> None:
    if rec.status not in STATUSES:
        raise InputError(f"`status` must be one of {', '.join(STATUSES)}; got {rec.status!r}.")
    if not rec.id or not rec.experiment:
        raise InputError(f"`id` and `experiment` must be non-empty; got {rec.id!r}, {rec.experiment!r}.")
    if not math.isfinite(float(rec.wall_s)) or rec.wall_s < 0:
        raise InputError(f"`wall_s` must be a finite non-negative number; got {rec.wall_s!r}.")


# ---------------------------------------------------------------------------------------- store
class ResultsStore:
    """The SQLite results database (WAL mode, one writer).

    Parameters
    ----------
    path : path-like, optional
        The database file; see :func:`resolve_db_path` for the default.
    create : bool
        Create the file (and its folder) when missing.  Readers pass ``False`` and get a
        :class:`StoreError` for a missing database instead of an empty new one.
    write : bool
        Check at once that the database can be written (not locked by another process), so a
        sweep fails before it computes anything.
    busy_timeout_s : float
        How long to wait for another process's lock before giving up with a :class:`StoreError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with ResultsStore(pathlib.Path(tempfile.mkdtemp()) / "r.sqlite") as s:
    ...     s.count()
    0
    """

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True, write: bool = True,
                 busy_timeout_s: float = _BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = resolve_db_path(path)
        self._busy_ms = int(1000 * check_positive_float(busy_timeout_s, "busy_timeout_s"))
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"`db` must be a file; {str(self.path)!r} is a folder.")
        if not self.path.exists():
            if not create:
                raise StoreError(f"`db`: no results database at {str(self.path)!r} (run a sweep or the report first, "
                                 f"or pass --db / set {ENV_DB}).")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self._conn = sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"`db`: cannot open {str(self.path)!r} ({exc}).") from None
        try:
            self._open(existed, write)
        except BaseException:
            self._conn.close()
            raise

    def _open(self, existed: bool, write: bool) -> None:
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        if existed and "runs" not in tables:
            raise StoreError(f"`db`: {str(self.path)!r} is a SQLite database but not a crossnoise results store "
                             f"(tables: {', '.join(sorted(tables)) or 'none'}); nothing was changed.")
        if "runs" in tables:
            cols = tuple(r[1] for r in self._conn.execute("PRAGMA table_info(runs)"))
            if cols != _COLUMNS:
                raise StoreError(f"`db`: {str(self.path)!r} has a `runs` table with other columns than a crossnoise "
                                 f"results store; nothing was changed.")
        if not write:
            return
        try:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"`db`: {str(self.path)!r} could not be switched to WAL mode (got {mode}).")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("BEGIN IMMEDIATE")  # fails now, not mid-sweep, if another process holds the lock
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._conn.execute(statement)
            self._conn.execute("INSERT OR IGNORE INTO crossnoise_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> StoreError:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            return StoreError(f"`db`: {str(self.path)!r} is locked by another process (waited "
                              f"{self._busy_ms / 1000:g} s); nothing was written.")
        if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
            return StoreError(f"`db`: {str(self.path)!r} is not a valid SQLite database (corrupt or another kind of "
                              f"file: {msg}); nothing was overwritten.")
        return StoreError(f"`db`: {str(self.path)!r} cannot be used ({msg}).")

    # ------------------------------------------------------------------ context management
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def record(self, rec: RunRecord, *, replace_ok: bool = False) -> bool:
        """Write one run in one transaction; return True if the row was written.

        An existing ``ok`` row with the same id is kept (a sweep never recomputes or overwrites
        a finished cell) unless ``replace_ok``; an existing ``failed`` row is replaced.
        """
        _validate_record(rec)
        row = rec.to_dict()
        row["recorded_at"] = utc_now()
        row["config"] = canonical_config(rec.config)
        row["metrics"] = json.dumps(_jsonable(rec.metrics), sort_keys=True, allow_nan=False)
        row["artifacts"] = json.dumps([str(a) for a in rec.artifacts])
        cols = ", ".join(_COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        update = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "id")
        where = "" if replace_ok else " WHERE runs.status != 'ok'"
        sql = f"INSERT INTO runs ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {update}{where}"
        try:
            cur = self._conn.execute(sql, [row[c] for c in _COLUMNS])  # autocommit: one atomic statement
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        return cur.rowcount == 1

    # ------------------------------------------------------------------ reading
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def done_ids(self, ids: Iterable[str] | None = None) -> set[str]:
        """The ids (among ``ids``, or all) already stored with status ``ok``."""
        rows = self._query("SELECT id FROM runs WHERE status = 'ok'")
        have = {r[0] for r in rows}
        return have if ids is None else have & set(ids)

    def count(self, *, experiment: str | None = None, status: str | None = None) -> int:
        where, params = self._where(experiment, status, None)
        return int(self._query(f"SELECT COUNT(*) FROM runs{where}", params)[0][0])

    @staticmethod
    def _where(experiment: str | None, status: str | None, sweep: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for col, val in (("experiment", experiment), ("status", status), ("sweep", sweep)):
            if val is not None:
                clauses.append(f"{col} = ?")
                params.append(val)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def runs(self, *, experiment: str | None = None, status: str | None = None, sweep: str | None = None,
             limit: int | None = None) -> list[RunRecord]:
        """Stored runs, newest first, optionally filtered."""
        if status is not None and status not in STATUSES:
            raise InputError(f"`status` must be one of {', '.join(STATUSES)}; got {status!r}.")
        where, params = self._where(experiment, status, sweep)
        lim = "" if limit is None else f" LIMIT {int(limit)}"
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM runs{where} ORDER BY recorded_at DESC, id{lim}", params)
        return [RunRecord._from_row(r) for r in rows]

    def get(self, id_or_prefix: str) -> RunRecord:
        """The run whose id is, or starts with, ``id_or_prefix`` (unique prefix of ≥ 4 digits)."""
        key = str(id_or_prefix).strip().lower()
        if len(key) < 4 or any(c not in "0123456789abcdef" for c in key):
            raise InputError(f"`ID` must be a run id or a prefix of at least 4 hex digits; got {id_or_prefix!r}.")
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE id LIKE ? ORDER BY id LIMIT 3", (key + "%",))
        if not rows:
            raise InputError(f"`ID`: no run with id {id_or_prefix!r} in {str(self.path)!r}.")
        if len(rows) > 1 and rows[0][0] != key:
            raise InputError(f"`ID` prefix {id_or_prefix!r} is ambiguous: it matches "
                             f"{', '.join(r[0] for r in rows)}{'…' if len(rows) == 3 else ''}.")
        return RunRecord._from_row(rows[0])

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``'ok'`` for a sound database."""
        return str(self._query("PRAGMA integrity_check")[0][0])


# ---------------------------------------------------------------------------------------- export
EXPORT_FORMATS = ("csv", "parquet", "json")


def flatten_run(rec: RunRecord) -> dict[str, Any]:
    """One flat row: the run's columns, ``config.<key>`` and ``metrics.<key>`` (scalars; lists as JSON)."""
    row: dict[str, Any] = {c: getattr(rec, c) for c in _COLUMNS if c not in ("config", "metrics", "artifacts")}
    row["artifacts"] = json.dumps(list(rec.artifacts))
    for prefix, d in (("config", rec.config), ("metrics", rec.metrics)):
        for k, v in d.items():
            row[f"{prefix}.{k}"] = json.dumps(v) if isinstance(v, (list, dict)) else v
    return row


def export_runs(records: Sequence[RunRecord], path: str | os.PathLike, fmt: str) -> Path:
    """Write ``records`` to ``path`` as CSV (flat), Parquet (flat, needs pyarrow) or JSON (nested).

    The flat forms have one column per config key and metric (``config.n``, ``metrics.snr``);
    a key absent from a run is empty.  Returns the path written.
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"`format` must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}.")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps({"runs": [_jsonable(r.to_dict()) for r in records]}, indent=1, allow_nan=False) + "\n")
        return out
    rows = [flatten_run(r) for r in records]
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    if not columns:
        columns = [c for c in _COLUMNS]
    if fmt == "csv":
        import csv

        with out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        return out
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("`format` parquet needs pyarrow; install it with `pip install \"crossnoise[parquet]\"`, "
                         "or choose csv or json.") from None
    data = {c: [row.get(c) for row in rows] for c in columns}
    arrays = {}
    for c, values in data.items():
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types across runs: keep them as text
            arrays[c] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    pq.write_table(pa.table(arrays), out)
    return out
