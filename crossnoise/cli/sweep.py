"""``crossnoise sweep run FILE`` and ``crossnoise sweep experiments``: sweeps on dask.distributed."""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Any

import click

from crossnoise.cli.common import emit, print_table, progress_reporter
from crossnoise.cli.results import app_options, db_option

__all__ = ["group"]


@click.group(name="sweep")
def group() -> None:
    """Run parameter sweeps (TOML files) on dask.distributed; results go to the results store."""


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@group.command(name="run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Address of an existing dask scheduler (tcp://HOST:PORT); default: a LocalCluster here.")
@click.option("--workers", type=int, default=None, help="LocalCluster worker processes (1 thread each); default: CPUs.")
@click.option("--retries", type=int, default=None, help="Re-runs of a cell that raised (default: the file's, else 0).")
@click.option("--dry-run", is_flag=True, help="Only list the cells and which are already stored.")
@db_option
@app_options("Run only this seed instead of the file's seeds.", "Also write the sweep's stored cells to OUT/<name>.csv.")
def run(file: str, scheduler: str | None, workers: int | None, retries: int | None, dry_run: bool, db: str | None,
        seed: int | None, as_json: bool, out: str | None) -> None:
    """Run the cells of sweep FILE that are not stored yet.

    Each cell is recorded as soon as it finishes, so Ctrl-C (or a killed client) loses only the
    cells in flight; running the same command again computes only the missing ones.
    Exit codes: 0 all cells stored, 1 some cells failed, 2 bad input, 130 interrupted.
    """
    import dataclasses

    from crossnoise.store import ResultsStore
    from crossnoise.sweep import load_sweep, run_sweep, _validate_run

    spec = load_sweep(file)
    if seed is not None:
        spec = dataclasses.replace(spec, seeds=(seed,))
    _validate_run(workers, 0 if retries is None else retries, scheduler)
    cells = spec.cells()
    if dry_run:
        from crossnoise.store import resolve_db_path

        path = resolve_db_path(db)
        done: set[str] = set()
        if path.exists():
            with ResultsStore(path, create=False, write=False) as store:
                done = store.done_ids(c.id for c in cells)
        rows = [{"id": c.id, "seed": c.seed, **c.config, "stored": c.id in done} for c in cells]
        emit({"sweep": spec.name, "experiment": spec.experiment, "total": len(cells), "stored": len(done),
              "cells": rows}, as_json, lambda p: print_table(f"{spec.name}: {len(cells)} cells, {len(done)} stored", rows))
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with ResultsStore(db, create=True, write=True) as store, contextlib.ExitStack() as stack:
            bar: list[Any] = []

            def progress(done: int, total: int) -> None:  # the bar appears once the cluster is up
                if not bar:
                    bar.append(stack.enter_context(progress_reporter(f"sweep {spec.name}", total)))
                bar[0](done, total)

            result = run_sweep(spec, store=store, scheduler=scheduler, workers=workers, retries=retries,
                               progress=progress)
            csv_path = None
            if out is not None:  # the sweep's stored cells as one CSV table
                from crossnoise.cli.common import out_dir
                from crossnoise.store import export_runs

                ids = {c.id for c in cells}
                runs = sorted((r for r in store.runs(experiment=spec.experiment) if r.id in ids),
                              key=lambda r: (r.seed, r.id))
                csv_path = export_runs(runs, out_dir(out) / f"{spec.name}.csv", "csv")
    finally:
        signal.signal(signal.SIGTERM, previous)
    payload = result.to_dict() | ({"csv": str(csv_path)} if csv_path else {})

    def render(p: dict[str, Any]) -> None:
        print_table(f"sweep {p['name']} ({p['experiment']}) on {p['scheduler']}",
                    [{"quantity": k, "value": p[k]} for k in ("total", "skipped", "computed", "failed", "remaining",
                                                              "workers", "wall_s", "db")])
        for f in p["failures"]:
            click.echo(f"failed {f['id']}: {f['error']}", err=True)

    emit(payload, as_json, render)
    if result.interrupted:
        click.echo(f"Interrupted: {result.skipped + result.computed} of {result.total} cells stored; "
                   f"run the same command again to compute the {result.remaining} missing.", err=True)
        sys.exit(130)
    if result.failed:
        sys.exit(1)


@group.command(name="experiments")
@app_options("Unused.", "Unused.")
def experiments(seed: int | None, as_json: bool, out: str | None) -> None:
    """List the experiments a sweep file may name, with their parameters."""
    from crossnoise.experiments import EXPERIMENTS

    rows = []
    for name, exp in EXPERIMENTS.items():
        ok, why = exp.available()
        rows.append({"experiment": name, "available": ok, "why": why, "description": exp.description,
                     "parameters": [p.describe() for p in exp.params]})

    def render(p: dict[str, Any]) -> None:
        print_table("sweepable experiments", [
            {"experiment": r["experiment"], "available": "yes" if r["available"] else f"no: {r['why']}",
             "parameters": "; ".join(r["parameters"])} for r in p["experiments"]])

    emit({"experiments": rows}, as_json, render)
