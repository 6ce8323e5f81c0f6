"""Conventions shared by every ``crossnoise`` command.

- ``--seed`` (int), ``--json`` (exactly one JSON object on stdout, nothing else on stdout) and
  ``--out DIR`` for files: :func:`common_options`.
- Human output is a rich table on stdout: :func:`emit`.
- Progress goes to stderr (never stdout) through :func:`progress_reporter`, a callback that
  library functions accept as ``progress(done, total)``.
- Bad input (:class:`crossnoise.validation.InputError`, click usage errors) becomes one line on
  stderr and exit code 2 in :func:`crossnoise.cli.main.main`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = [
    "common_options",
    "emit",
    "to_jsonable",
    "progress_reporter",
    "out_dir",
    "print_table",
    "stderr_console",
]


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths to JSON types; non-finite floats → None.

    JSON has no NaN or infinity; an infinite noise scale (no detectable signal) is written as
    ``null``, and the human table shows ``inf``.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return to_jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def stderr_console():  # rich is imported lazily: `crossnoise --help` stays fast
    from rich.console import Console

    return Console(stderr=True)


def print_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """A rich table of ``rows`` (dicts) on stdout."""
    from rich.console import Console
    from rich.table import Table

    cols = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title)
    for c in cols:
        table.add_column(c, justify="right" if rows and isinstance(rows[0].get(c), (int, float)) else "left")
    for row in rows:
        table.add_row(*(_fmt(row.get(c)) for c in cols))
    Console().print(table)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return "—"
    if isinstance(v, (list, tuple)):  # e.g. a confidence interval
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def emit(payload: Mapping[str, Any], as_json: bool, render: Callable[[Mapping[str, Any]], None] | None = None) -> None:
    """Write a command's result: one JSON object, or the human rendering (default: key/value table)."""
    if as_json:
        click.echo(json.dumps(to_jsonable(payload), allow_nan=False))
        return
    if render is not None:
        render(payload)
        return
    print_table("", [{"quantity": k, "value": v} for k, v in payload.items() if not isinstance(v, dict)])


def out_dir(path: str | None, default: str = "crossnoise-out") -> Path:
    """The output folder for files (``--out``), created if missing."""
    p = Path(path or default)
    p.mkdir(parents=True, exist_ok=True)
    return p


@contextlib.contextmanager
def progress_reporter(description: str, total: int | None = None, *, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr, yielded as a ``progress(done, total=None)`` callback."""
    if not enabled:
        yield lambda done, total=None: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=stderr_console(), transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total: int | None = None) -> None:
            bar.update(task, completed=done, **({"total": total} if total is not None else {}))

        yield update


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--seed``, ``--json`` and ``--out`` to a command (passed as ``seed``, ``as_json``, ``out``)."""

    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random stream.")
    @click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
    @click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder for files (plots, tables).")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def not_built(name: str, issue: int) -> click.Command:
    """A registered command whose issue has not landed: says so on stderr and exits 1."""

    @click.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   help=f"(not built yet: issue #{issue})", add_help_option=False)
    @click.pass_context
    def cmd(ctx: click.Context) -> None:
        click.echo(f"crossnoise {name}: not built yet (issue #{issue}).", err=True)
        sys.exit(1)

    return cmd
