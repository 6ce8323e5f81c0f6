"""``crossnoise results list | show ID | export --format csv|parquet|json``: the results store."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from crossnoise.cli.common import emit, out_dir, print_table, to_jsonable

__all__ = ["group", "db_option", "app_options"]


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db PATH`` (default ``$CROSSNOISE_DB`` or ``./crossnoise-results/results.sqlite``)."""
    return click.option("--db", type=click.Path(dir_okay=False), default=None,
                        help="Results database (default: $CROSSNOISE_DB or ./crossnoise-results/results.sqlite).")(func)


def app_options(seed_help: str, out_help: str = "Folder for files.") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--seed`` (meaning given by ``seed_help``, default none), ``--json`` and ``--out DIR``."""

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        @click.option("--seed", type=click.IntRange(min=0), default=None, help=seed_help)
        @click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
        @click.option("--out", type=click.Path(file_okay=False), default=None, help=out_help)
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return wrapper

    return deco


@click.group(name="results")
def group() -> None:
    """List, show and export the runs in the results store (SQLite)."""


def _summary(rec: Any) -> dict[str, Any]:
    m = rec.metrics
    headline = next((k for k in ("noise_scale", "snr", "localization_error") if isinstance(m.get(k), (int, float))), None)
    return {"id": rec.id, "experiment": rec.experiment, "seed": rec.seed, "status": rec.status,
            "sweep": rec.sweep, "finished_at": rec.finished_at[:19], "wall_s": rec.wall_s,
            "headline": f"{headline}={m[headline]:.4g}" if headline else (rec.error or "")[:40]}


@group.command(name="list")
@click.option("--experiment", default=None, help="Only runs of this experiment.")
@click.option("--sweep", "sweep_name", default=None, help="Only runs of this sweep.")
@click.option("--status", type=click.Choice(["ok", "failed"]), default=None, help="Only runs with this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many (newest first).")
@db_option
@app_options("Only runs with this seed.", "Unused.")
def list_runs(experiment: str | None, sweep_name: str | None, status: str | None, limit: int, db: str | None,
              seed: int | None, as_json: bool, out: str | None) -> None:
    """List stored runs, newest first."""
    from crossnoise.store import ResultsStore

    with ResultsStore(db, create=False, write=False) as store:
        runs = store.runs(experiment=experiment, status=status, sweep=sweep_name)
        total = store.count()
    if seed is not None:
        runs = [r for r in runs if r.seed == seed]
    matched = len(runs)
    rows = [_summary(r) for r in runs[:limit]]
    payload = {"db": str(store.path), "total": total, "matched": matched, "runs": rows}

    def render(p: dict[str, Any]) -> None:
        print_table(f"{p['matched']} of {p['total']} runs in {p['db']}" + (f" (showing {len(rows)})" if matched > limit else ""),
                    rows, ["id", "experiment", "seed", "status", "sweep", "headline", "wall_s", "finished_at"])

    emit(payload, as_json, render)


@group.command(name="show")
@click.argument("run_id", metavar="ID")
@db_option
@app_options("Unused (a run's seed is part of its id).", "Unused.")
def show(run_id: str, db: str | None, seed: int | None, as_json: bool, out: str | None) -> None:
    """Show one run (ID or a unique prefix of at least 4 hex digits)."""
    from crossnoise.store import ResultsStore

    with ResultsStore(db, create=False, write=False) as store:
        rec = store.get(run_id)
    payload = rec.to_dict()

    def render(p: dict[str, Any]) -> None:
        head = [{"field": k, "value": p[k]} for k in ("id", "experiment", "seed", "status", "sweep", "code_version",
                                                      "host", "started_at", "finished_at", "wall_s", "error")]
        head += [{"field": f"config.{k}", "value": v} for k, v in p["config"].items()]
        head += [{"field": "artifact", "value": a} for a in p["artifacts"]]
        print_table(f"run {p['id']}", head, ["field", "value"])
        metrics = [{"metric": k, "value": v} for k, v in to_jsonable(p["metrics"]).items()
                   if not isinstance(v, (list, dict))]
        if metrics:
            print_table("metrics", metrics, ["metric", "value"])

    emit(payload, as_json, render)


@group.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json"]), default="csv", show_default=True,
              help="csv and parquet: one flat row per run (config.*, metrics.*); json: nested.")
@click.option("--experiment", default=None, help="Only runs of this experiment.")
@click.option("--sweep", "sweep_name", default=None, help="Only runs of this sweep.")
@click.option("--status", type=click.Choice(["ok", "failed"]), default=None, help="Only runs with this status.")
@db_option
@app_options("Only runs with this seed.", "Folder for results.<format> (default: crossnoise-results).")
def export(fmt: str, experiment: str | None, sweep_name: str | None, status: str | None, db: str | None,
           seed: int | None, as_json: bool, out: str | None) -> None:
    """Export runs to OUT/results.<format> (default folder: crossnoise-results)."""
    from crossnoise.store import ResultsStore, export_runs

    with ResultsStore(db, create=False, write=False) as store:
        runs = store.runs(experiment=experiment, status=status, sweep=sweep_name)
    if seed is not None:
        runs = [r for r in runs if r.seed == seed]
    runs.sort(key=lambda r: (r.experiment, r.recorded_at, r.id))
    path = export_runs(runs, out_dir(out, "crossnoise-results") / f"results.{fmt}", fmt)
    emit({"path": str(path), "format": fmt, "runs": len(runs)}, as_json)
