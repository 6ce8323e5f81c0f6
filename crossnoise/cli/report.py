"""``crossnoise report``: run every domain's default study and write the cross-domain report."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from crossnoise.cli.common import emit, out_dir, print_table, stderr_console
from crossnoise.cli.results import db_option

__all__ = ["command"]


@contextlib.contextmanager
def _bars(domains: tuple[str, ...]) -> Iterator[Any]:
    """One progress bar per domain on stderr; yields ``progress_for(domain)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=stderr_console()) as bar:
        tasks: dict[str, Any] = {}

        def progress_for(domain: str):
            def update(done: int, total: int) -> None:
                if domain not in tasks:  # a bar appears when the domain's study starts reporting
                    tasks[domain] = bar.add_task(domain, total=total)
                bar.update(tasks[domain], completed=done, total=total)

            return update

        yield progress_for


@click.command(name="report")
@click.option("--quick", is_flag=True, help="The quick studies (about 1 minute on 2 cores instead of about 5).")
@click.option("--domain", "domains", multiple=True, type=click.Choice(["quantum", "bio", "ml"]),
              help="Run only this domain (repeatable); default: all.")
@click.option("--jobs", type=click.IntRange(min=1), default=min(2, os.cpu_count() or 1), show_default=True,
              help="Domain studies run at once, each in its own process.")
@click.option("--no-store", is_flag=True, help="Do not record the studies in the results store.")
@db_option
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random stream.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for index.html, report.md and figures (default: crossnoise-report).")
def command(quick: bool, domains: tuple[str, ...], jobs: int, no_store: bool, db: str | None, seed: int,
            as_json: bool, out: str | None) -> None:
    """Run the cross-domain SNR report: each domain's default study, stored, as HTML and Markdown.

    A domain whose study is not built yet is shown as missing; one whose study fails is shown as
    failed with its error (exit code 1).  Writes OUT/index.html (self-contained) and OUT/report.md.
    """
    from crossnoise.report import DOMAINS, run_report
    from crossnoise.store import ResultsStore

    doms = tuple(domains) or DOMAINS
    folder = out_dir(out, "crossnoise-report")
    with contextlib.ExitStack() as stack:
        store = None if no_store else stack.enter_context(ResultsStore(db, create=True, write=True))
        progress_for = stack.enter_context(_bars(doms))
        rep = run_report(quick=quick, seed=seed, out_dir=folder, domains=doms, jobs=jobs, store=store,
                         progress_for=progress_for)
    payload = rep.to_json()

    def render(p: dict[str, Any]) -> None:
        from crossnoise.report import _num, table_rows

        rows = []
        for r in table_rows(rep.outcomes):
            if r["status"] != "ok":
                rows.append({"domain": r["domain"], "quantity": f"{r['status']}: {r['quantity']}"})
                continue
            rows.append({"domain": r["domain"], "quantity": r["quantity"],
                         "n": f"{_num(r['n_samples'])} {r['sample_unit']}", "SNR": _num(r["snr"], r["snr_se"]),
                         "noise scale": f"{_num(r['noise_scale'], r['noise_scale_se'])} {r['sample_unit']}",
                         "localization error": f"{_num(r['localization_error'], r['localization_error_se'])} "
                                               f"{r['localization_unit']}"})
        print_table(f"cross-domain SNR (seed {seed}{', quick' if quick else ''})", rows,
                    ["domain", "quantity", "n", "SNR", "noise scale", "localization error"])
        click.echo(f"report: {p['report_path']}  ({p['markdown_path']})")

    emit(payload, as_json, render)
    for o in rep.outcomes:
        if o.status != "ok":
            click.echo(f"{o.domain}: {o.status}: {o.reason}", err=True)
    if any(o.status == "failed" for o in rep.outcomes):
        sys.exit(1)
