"""The ``crossnoise`` command line.

Subcommands are imported only when invoked, so ``crossnoise --help`` does not import qiskit,
pennylane or torch.  Every command shares the conventions of :mod:`crossnoise.cli.common`.
Exit codes: 0 success, 1 failure of a run, 2 bad input (one line on stderr, no traceback),
130 interrupted.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from crossnoise import __version__

# name -> (module:attribute, one-line help shown by `crossnoise --help` without importing it)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "snr": ("crossnoise.cli.snr:command", "Signal-to-noise of per-sample vectors in a .npy or .csv file."),
    "quantum": ("crossnoise.cli.quantum:group", "VQE shot noise: molecules, energies, gradient variance, optimizers."),
    "bio": ("crossnoise.cli.bio:group", "Morphogen gradients and the positional error of patterning."),
    "ml": ("crossnoise.cli.ml:group", "Gradient noise scale of neural-network training (PyTorch)."),
    "report": ("crossnoise.cli.report:command", "Run the cross-domain SNR report (HTML + Markdown)."),
    "sweep": ("crossnoise.cli.sweep:group", "Run parameter sweeps on dask.distributed."),
    "results": ("crossnoise.cli.results:group", "List, show and export stored results."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[name][0].split(":")
        return getattr(import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in SUBCOMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crossnoise")
def cli() -> None:
    """crossnoise — how noise limits the reading of a signal, in three fields that share one law.

    A noisy slope or gradient is read with an error of noise over slope; the samples that bring
    its signal-to-noise ratio to 1 are its noise scale.  Every command takes --seed, --json and
    --out DIR.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping bad input to exit code 2 with a one-line message."""
    from crossnoise.validation import InputError

    try:
        rv = cli.main(args=argv, prog_name="crossnoise", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx is not None else "crossnoise"
        click.echo(f"Error: {cmd}: {exc.format_message()}", err=True)
        sys.exit(2)
    except InputError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
