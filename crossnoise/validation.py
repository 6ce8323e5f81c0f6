"""Input validation helpers shared by every public entry point (DESIGN §3.7).

Each public entry point has ONE validation function that calls these helpers; every message names
the parameter, what is accepted and the value given, e.g.
"`shots` must be a positive integer; got -3."  :class:`InputError` subclasses :class:`ValueError`
so library users can catch either; the CLI turns it into exit code 2 and a one-line message.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "check_positive_int",
    "check_nonnegative_int",
    "check_positive_float",
    "check_probability",
    "check_choice",
    "check_finite_array",
    "warn_degenerate",
]


class InputError(ValueError):
    """Bad input to a public crossnoise function (the CLI maps it to exit code 2)."""


def _describe(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(value)


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as ``int`` if it is an integer ≥ ``minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer() and value >= minimum:
            return int(value)
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InputError(f"`{name}` must be {kind}; got {_describe(value)}.")
    if value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InputError(f"`{name}` must be {kind}; got {value}.")
    return int(value)


def check_nonnegative_int(value: Any, name: str) -> int:
    """Return ``value`` as ``int`` if it is an integer ≥ 0."""
    return check_positive_int(value, name, minimum=0)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite ``float`` > 0 (or ≥ 0 with ``allow_zero``)."""
    kind = "a finite non-negative number" if allow_zero else "a finite positive number"
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` must be {kind}; got {_describe(value)}.") from None
    if isinstance(value, bool) or not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise InputError(f"`{name}` must be {kind}; got {_describe(value)}.")
    return x


def check_probability(value: Any, name: str, *, open_interval: bool = True) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1] with ``open_interval=False``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    ok = (0 < x < 1) if open_interval else (0 <= x <= 1)
    if isinstance(value, bool) or not ok:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise InputError(f"`{name}` must be a number in {interval}; got {_describe(value)}.")
    return x


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; the error lists them."""
    options = list(choices)
    if value not in options:
        raise InputError(f"`{name}` must be one of {', '.join(map(str, options))}; got {value!r}.")
    return value


def check_finite_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_rows: int = 0,
    dtype: type = float,
) -> np.ndarray:
    """Return ``value`` as a finite numpy array, checking its rank and number of rows.

    Ragged input (rows of different lengths) and NaN/inf entries are rejected with the index of
    the first bad entry, so a user can find it in their file.
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"`{name}` must be a rectangular numeric array (equal-length rows); got ragged or "
            f"non-numeric data ({exc})."
        ) from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{k}-D" for k in allowed)
            raise InputError(f"`{name}` must be a {want} array; got a {arr.ndim}-D array of shape {arr.shape}.")
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise InputError(f"`{name}` needs at least {min_rows} samples (rows); got {arr.shape[0]}.")
    if arr.size and not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InputError(
            f"`{name}` must contain only finite numbers; got {arr[bad]} at index {bad if len(bad) > 1 else bad[0]}."
        )
    return arr


def warn_degenerate(message: str, *, stacklevel: int = 3) -> None:
    """Warn about degenerate-but-legal input (DESIGN §3.7), pointing at the caller's caller."""
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)
