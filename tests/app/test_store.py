"""The SQLite results store: ids, whole-row writes, WAL, refusing corrupt/foreign/locked files, export."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossnoise.store import (
    ResultsStore,
    RunRecord,
    StoreError,
    canonical_config,
    code_version,
    export_runs,
    resolve_db_path,
    run_id,
)
from crossnoise.validation import InputError


def _rec(i: int = 0, status: str = "ok", **kw) -> RunRecord:
    config = {"n": 100 + i, "mean": 0.5}
    v = code_version("1")
    base = dict(id=run_id("core.snr-synthetic", config, i, v), experiment="core.snr-synthetic", config=config,
                seed=i, code_version=v, status=status, metrics={"snr": 2.0 + i, "noise_scale": float("inf")},
                artifacts=("a.png",), sweep="t", started_at="2026-01-01T00:00:00", finished_at="2026-01-01T00:00:01",
                wall_s=1.0)
    base.update(kw)
    return RunRecord(**base)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_id_is_canonical_and_sensitive():
    v = code_version("1")
    a = run_id("e", {"b": 2.0, "a": 1}, 3, v)
    assert a == run_id("e", {"a": 1, "b": 2}, 3, v)  # key order and 2.0 vs 2 do not matter
    assert len(a) == 16 and int(a, 16) >= 0
    others = {run_id("e", {"a": 1, "b": 2}, 4, v), run_id("f", {"a": 1, "b": 2}, 3, v),
              run_id("e", {"a": 1, "b": 2.5}, 3, v), run_id("e", {"a": 1, "b": 2}, 3, code_version("2"))}
    assert a not in others and len(others) == 4


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), st.one_of(st.integers(-10**6, 10**6),
                       st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)), max_size=6))
def test_canonical_config_ignores_insertion_order(d):
    assert canonical_config(d) == canonical_config(dict(reversed(list(d.items()))))
    assert json.loads(canonical_config(d)).keys() == d.keys()


def test_record_roundtrip_wal_and_no_overwrite(tmp_path):
    db = tmp_path / "sub" / "r.sqlite"
    with ResultsStore(db) as s:
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.record(_rec(0)) is True
        assert s.record(_rec(0, metrics={"snr": 99.0})) is False  # a finished run is never overwritten
        got = s.get(_rec(0).id)
        assert got.metrics == {"snr": 2.0, "noise_scale": None}  # inf is stored as null (JSON)
        assert got.config == {"n": 100, "mean": 0.5} and got.artifacts == ("a.png",) and got.sweep == "t"
        assert s.get(_rec(0).id[:6]).id == _rec(0).id
        assert s.done_ids() == {_rec(0).id}
        assert s.integrity_check() == "ok"


def test_failed_run_is_replaced_when_recomputed(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as s:
        s.record(_rec(1, status="failed", metrics={}, error="boom"))
        assert s.done_ids() == set() and s.count(status="failed") == 1
        assert s.record(_rec(1)) is True
        assert s.count() == 1 and s.get(_rec(1).id).status == "ok" and s.get(_rec(1).id).error is None


def test_filters_and_bad_lookups(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as s:
        for i in range(3):
            s.record(_rec(i))
        s.record(_rec(7, status="failed", metrics={}, error="x"))
        assert s.count() == 4 and s.count(status="ok") == 3
        assert len(s.runs(experiment="core.snr-synthetic", status="ok", limit=2)) == 2
        assert s.runs(experiment="nope") == []
        with pytest.raises(InputError, match="no run with id"):
            s.get("ffffffff")
        with pytest.raises(InputError, match="at least 4 hex"):
            s.get("zz")
        with pytest.raises(InputError, match="status"):
            s.record(_rec(9, status="weird"))


def test_missing_database_is_not_created_for_readers(tmp_path):
    with pytest.raises(StoreError, match="no results database"):
        ResultsStore(tmp_path / "none.sqlite", create=False, write=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path):
    db = tmp_path / "r.sqlite"
    db.write_bytes(b"this is not an SQLite database\x00" * 200)
    before = _sha(db)
    for write in (True, False):
        with pytest.raises(StoreError, match="not a valid SQLite database"):
            ResultsStore(db, write=write)
    assert _sha(db) == before and sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite"]


def test_foreign_sqlite_database_is_refused(tmp_path):
    db = tmp_path / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE patients (name TEXT)")
    con.commit()
    con.close()
    before = _sha(db)
    with pytest.raises(StoreError, match="not a crossnoise results store"):
        ResultsStore(db)
    assert _sha(db) == before


def test_database_locked_by_another_process(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultsStore(db) as s:
        s.record(_rec(0))
    # A real second process takes an exclusive lock and holds it.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None);"
         "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE');"
         "c.execute(\"UPDATE crossnoise_meta SET value=value\"); print('locked', flush=True); time.sleep(60)", str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="locked by another process"):
            ResultsStore(db, busy_timeout_s=0.5)
        assert time.monotonic() - t0 < 5
    finally:
        holder.kill()
        holder.wait()
    with ResultsStore(db) as s:  # the lock is gone with the process; the row is intact
        assert s.count() == 1 and s.integrity_check() == "ok"


def test_resolve_db_path(monkeypatch, tmp_path):
    monkeypatch.delenv("CROSSNOISE_DB", raising=False)
    assert str(resolve_db_path()) == "crossnoise-results/results.sqlite"
    monkeypatch.setenv("CROSSNOISE_DB", str(tmp_path / "e.sqlite"))
    assert resolve_db_path() == tmp_path / "e.sqlite"
    assert str(resolve_db_path("x.sqlite")) == "x.sqlite"


def test_export_csv_json_parquet(tmp_path):
    recs = [_rec(0), _rec(1), _rec(2, status="failed", metrics={}, error="boom")]
    p = export_runs(recs, tmp_path / "r.csv", "csv")
    rows = list(csv.DictReader(p.open()))
    assert [r["id"] for r in rows] == [r.id for r in recs]
    assert rows[1]["metrics.snr"] == "3.0" and rows[0]["config.n"] == "100" and rows[2]["metrics.snr"] == ""
    j = json.loads(export_runs(recs, tmp_path / "r.json", "json").read_text())
    assert j["runs"][0]["config"] == {"n": 100, "mean": 0.5} and j["runs"][2]["error"] == "boom"
    pq = pytest.importorskip("pyarrow.parquet")
    t = pq.read_table(export_runs(recs, tmp_path / "r.parquet", "parquet")).to_pydict()
    assert t["id"] == [r.id for r in recs] and t["metrics.snr"] == [2.0, 3.0, None]
    with pytest.raises(InputError, match="csv, parquet, json"):
        export_runs(recs, tmp_path / "r.xls", "xls")


def test_code_version_follows_the_source(tmp_path, monkeypatch):
    """An edit to an experiment's source gives a new code version, hence new run ids (no stale reuse)."""
    import importlib

    from crossnoise.store import source_digest

    pkg = tmp_path / "cn_tmp_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "exp.py").write_text("def f(config, *, rng):\n    return {'x': 1}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    a = code_version("1", ("cn_tmp_pkg",))
    assert a == code_version("1", ("cn_tmp_pkg",)) and "/src-" in a
    (pkg / "exp.py").write_text("def f(config, *, rng):\n    return {'x': 2}\n")
    b = code_version("1", ("cn_tmp_pkg",))
    assert a != b and run_id("e", {}, 0, a) != run_id("e", {}, 0, b)
    assert source_digest(["no_such_module_xyz"]) == source_digest(["no_such_module_xyz"])
