"""Faults with real processes: a killed worker, a SIGKILLed or interrupted client, bad input, an
unreachable scheduler, a locked or corrupt database, and an external dask cluster."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

EXE = str(Path(sys.executable).with_name("crossnoise"))

# 16 cells of ≈ 0.1–0.2 s each (10 readings of 30,000 × 16 Gaussian draws): long enough to be
# killed in the middle, short enough for the fast tier.
SWEEP = """\
[sweep]
name = "fault"
experiment = "core.snr-synthetic"
seeds = [0, 1, 2, 3]

[fixed]
dim = 16
n = 30000
repeats = 10

[grid]
mean = [0.05, 0.1, 0.2, 0.4]
"""
TOTAL = 16


def _env(db: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONWARNINGS="ignore", CROSSNOISE_DB=str(db))


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen:
    f = tmp_path / "fault.toml"
    f.write_text(SWEEP)
    return subprocess.Popen([EXE, "sweep", "run", str(f), "--workers", "2", "--json", *extra], cwd=tmp_path,
                            env=_env(tmp_path / "r.sqlite"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _ok_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def _wait_rows(db: Path, k: int, proc: subprocess.Popen, timeout: float = 90) -> int:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        n = _ok_rows(db)
        if n >= k:
            return n
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"fewer than {k} rows after {timeout} s")


def _cleanup(proc: subprocess.Popen) -> None:
    """Kill whatever is left of the client's session (the test started it in a new session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=30)
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()


def _check_integrity(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT id, experiment, config, seed, status, metrics, finished_at FROM runs").fetchall()
    finally:
        con.close()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))                                     # no duplicate runs
    assert len({(r[1], r[2], r[3]) for r in rows}) == len(rows)         # nor duplicate cells under other ids
    for r in rows:                                                       # no partial rows
        assert r[4] == "ok" and r[6]
        m = json.loads(r[5])
        assert {"noise_scale", "noise_scale_se", "se_calibration", "n_draws"} <= m.keys()
    return rows


def _rerun(tmp_path: Path) -> dict:
    r = subprocess.run([EXE, "sweep", "run", str(tmp_path / "fault.toml"), "--workers", "2", "--json"], cwd=tmp_path,
                       env=_env(tmp_path / "r.sqlite"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_sigkill_client_mid_sweep_then_resume(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = _start(tmp_path)
    try:
        _wait_rows(db, 3, proc)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        _cleanup(proc)
    stored = _check_integrity(db)
    assert 3 <= len(stored) < TOTAL
    out = _rerun(tmp_path)
    assert (out["total"], out["skipped"], out["computed"], out["failed"]) == (TOTAL, len(stored), TOTAL - len(stored), 0)
    final = _check_integrity(db)
    assert len(final) == TOTAL and {r[0] for r in stored} <= {r[0] for r in final}


def test_kill_a_worker_mid_sweep_completes(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = _start(tmp_path)
    try:
        _wait_rows(db, 2, proc)
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) >= 2, [c.cmdline() for c in psutil.Process(proc.pid).children(recursive=True)]
        workers[0].send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=240)
    finally:
        _cleanup(proc)
    assert proc.returncode == 0, err
    res = json.loads(out)
    assert (res["total"], res["computed"], res["failed"], res["remaining"]) == (TOTAL, TOTAL, 0, 0)
    assert len(_check_integrity(db)) == TOTAL


@pytest.mark.slow  # ~15–30 s of process start-up on 2 shared cores; the kill tests above stay in the fast tier
def test_ctrl_c_stops_cleanly_and_keeps_finished_cells(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = _start(tmp_path)
    try:
        _wait_rows(db, 3, proc)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        _cleanup(proc)
    assert proc.returncode == 130, err
    res = json.loads(out)  # still exactly one JSON object on stdout
    assert res["interrupted"] and "run the same command again" in err and "Traceback" not in err
    stored = _check_integrity(db)
    assert res["computed"] == len(stored) and res["remaining"] == TOTAL - len(stored)
    again = _rerun(tmp_path)
    assert (again["skipped"], again["computed"]) == (len(stored), TOTAL - len(stored))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_fails_fast_exit_2(run_cli, tmp_path):
    (tmp_path / "s.toml").write_text(SWEEP)
    t0 = time.monotonic()
    r = run_cli("sweep", "run", tmp_path / "s.toml", "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
                "--db", tmp_path / "r.sqlite", cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - t0
    assert r.returncode == 2 and elapsed < 10, (elapsed, r.stderr)
    assert "could not connect to a dask scheduler" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""


@pytest.mark.parametrize("edit, needles", [
    (("mean = [0.05, 0.1, 0.2, 0.4]", "mean = [0.05, 0.1"), ["malformed TOML", "line 12", "[grid] mean"]),
    (('experiment = "core.snr-synthetic"', 'experiment = "quantum.nope"'), ["line 3", "experiment",
                                                                           "core.snr-synthetic"]),
    (("n = 30000", "shots = 100"), ["line 8", "[fixed] shots", "valid parameters", "dim (int"]),
])
def test_bad_sweep_files_exit_2(run_cli, tmp_path, edit, needles):
    assert edit[0] in SWEEP
    (tmp_path / "s.toml").write_text(SWEEP.replace(*edit))
    r = run_cli("sweep", "run", tmp_path / "s.toml", "--db", tmp_path / "r.sqlite", "--json", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    line = r.stderr.strip().splitlines()
    assert len(line) == 1 and all(n in line[0] for n in needles), line
    assert not (tmp_path / "r.sqlite").exists()  # nothing ran, nothing was created


def test_corrupt_and_locked_database_exit_2_nothing_overwritten(run_cli, tmp_path):
    (tmp_path / "s.toml").write_text(SWEEP)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(os.urandom(8192))
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    for args in (("sweep", "run", tmp_path / "s.toml"), ("results", "list"), ("results", "export")):
        r = run_cli(*args, "--db", bad, cwd=tmp_path)
        assert r.returncode == 2 and "not a valid SQLite database" in r.stderr, (args, r.stderr)
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == digest
    # locked: a real second process holds an exclusive lock on a good store
    from crossnoise.store import ResultsStore

    good = tmp_path / "good.sqlite"
    ResultsStore(good).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None);"
         "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE'); c.execute('CREATE TABLE y (a)');"
         "print('locked', flush=True); time.sleep(60)", str(good)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        r = run_cli("sweep", "run", tmp_path / "s.toml", "--db", good, cwd=tmp_path)
        assert r.returncode == 2 and "locked by another process" in r.stderr, r.stderr
        assert time.monotonic() - t0 < 15
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_external_scheduler_runs_the_sweep(tmp_path):
    """`--scheduler ADDRESS` connects to an existing cluster: a real `dask scheduler` + `dask worker`."""
    bindir = Path(sys.executable).parent
    port = _free_port()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    sched = subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                              "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    worker = subprocess.Popen([str(bindir / "dask"), "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                               "--nworkers", "1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        f = tmp_path / "s.toml"
        f.write_text(SWEEP.replace("seeds = [0, 1, 2, 3]", "seeds = [7]").replace("repeats = 10", "repeats = 2"))
        r = subprocess.run([EXE, "sweep", "run", str(f), "--scheduler", f"127.0.0.1:{port}", "--json"], cwd=tmp_path,
                           env=_env(tmp_path / "r.sqlite"), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        assert (res["computed"], res["workers"], res["scheduler"]) == (4, 1, f"127.0.0.1:{port}")
    finally:
        for p in (worker, sched):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)


@pytest.mark.parametrize("address", ["foo:bar", "ucx://127.0.0.1:8786", "tcp://", "host:99999999"])
def test_malformed_scheduler_address_exit_2(run_cli, tmp_path, address):
    (tmp_path / "s.toml").write_text(SWEEP)
    r = run_cli("sweep", "run", tmp_path / "s.toml", "--scheduler", address, "--db", tmp_path / "r.sqlite", cwd=tmp_path)
    assert r.returncode == 2 and "tcp://HOST:PORT" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.sqlite").exists()
