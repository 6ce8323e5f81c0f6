"""``crossnoise snr FILE``: the SignalNoise of per-sample vectors stored in a file."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click
import numpy as np

from crossnoise.cli.common import common_options, emit, print_table
from crossnoise.validation import InputError, check_finite_array

_KEYS = ("signal_norm_sq", "signal_norm_sq_se", "per_sample_variance", "per_sample_variance_se", "n_samples",
         "snr", "snr_se", "noise_scale", "noise_scale_se", "localization_error", "localization_error_se")


def load_samples(path: str | Path) -> np.ndarray:
    """Read per-sample vectors (one row per sample) from ``.npy`` or ``.csv``.

    A CSV may start with one header row of column names.  Empty, unreadable, ragged or non-finite
    data raise :class:`InputError` naming the file and what is wrong.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"`FILE` must be a readable .npy or .csv file; got {str(p)!r} (not found).")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            data: Any = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"`FILE` must be a readable .npy file; {str(p)!r} could not be read ({exc}).") from None
    elif suffix == ".csv":
        data = _read_csv(p)
    else:
        raise InputError(f"`FILE` must end in .npy or .csv; got {str(p)!r}.")
    arr = check_finite_array(data, f"FILE {p.name}", ndim=(1, 2), min_rows=0)
    if arr.size == 0:
        raise InputError(f"`FILE` must contain samples; {str(p)!r} is empty.")
    return arr


def _read_csv(p: Path) -> list[list[float]]:
    try:
        with p.open(newline="") as fh:
            rows = [r for r in csv.reader(fh) if r and any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"`FILE` must be a readable text CSV; {str(p)!r} could not be read ({exc}).") from None
    if not rows:
        raise InputError(f"`FILE` must contain samples; {str(p)!r} is empty.")
    if any(_is_header(cell) for cell in rows[0]):
        rows = rows[1:]
    out = []
    for lineno, row in enumerate(rows, start=1):
        if len(row) != len(rows[0]):
            raise InputError(
                f"`FILE` rows must all have {len(rows[0])} columns; data row {lineno} of {p.name} has {len(row)}."
            )
        try:
            out.append([float(c) for c in row])
        except ValueError:
            raise InputError(f"`FILE` must hold numbers; data row {lineno} of {p.name} is {row!r}.") from None
    return out


def _is_header(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return True
    return False


@click.command(name="snr")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--sample-unit", default="sample", show_default=True, help="Name of one sample (row).")
@click.option("--signal-unit", default="", help="Unit of the signal.")
@common_options
def command(file: str, sample_unit: str, signal_unit: str, seed: int, as_json: bool, out: str | None) -> None:
    """Signal-to-noise of per-sample vectors (rows) in FILE (.npy or .csv).

    The signal is the mean row; |signal|² the unbiased |mean|² − tr(S)/n; the per-sample
    variance tr(S) (ddof=1); n the number of rows.  Standard errors: closed-form jackknife.
    """
    from crossnoise.snr import SignalNoise

    data = load_samples(file)
    if data.shape[0] < 3:
        raise InputError(f"`FILE` needs at least 3 samples (rows) for a variance and its error; got {data.shape[0]}.")
    sn = SignalNoise.from_samples(data, sample_unit=sample_unit, signal_unit=signal_unit, label=Path(file).name)
    summary = sn.to_dict()
    payload = {k: summary[k] for k in _KEYS} | {"dim": summary["signal_dim"], "sample_unit": sample_unit}

    def render(p: dict[str, Any]) -> None:
        print_table(f"SignalNoise of {Path(file).name} ({data.shape[0]} samples × {summary['signal_dim']})",
                    [{"quantity": k, "value": p[k], "standard error": p.get(f"{k}_se")}
                     for k in ("signal_norm_sq", "per_sample_variance", "n_samples", "snr", "noise_scale",
                               "localization_error")])

    emit(payload, as_json, render)
