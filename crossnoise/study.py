"""What each domain hands the cross-domain report: its default study.

Each domain package provides ``crossnoise.<domain>.study.report_study(*, quick, rng, out_dir,
progress)`` returning a :class:`DomainStudy`: the :class:`~crossnoise.snr.SignalNoise` records it
measured, its headline figure and a short plain-language reading.  The report (application layer)
imports these lazily and shows a domain whose study is absent as missing, never faked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from crossnoise.snr import SignalNoise

__all__ = ["DomainStudy", "ReportStudy", "ProgressCallback"]

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: library code reports progress through this, never by printing."""


@dataclass(frozen=True, slots=True)
class DomainStudy:
    """A domain's contribution to the cross-domain report.

    Attributes
    ----------
    domain : str
        ``"quantum"``, ``"bio"`` or ``"ml"``.
    records : tuple of SignalNoise
        The readings, each labelled (``SignalNoise.label``) with what was read.
    localization_unit : str
        Unit of ``localization_error`` (e.g. ``"cell diameters"``, ``"gradient norms"``).
    figure : Path or None
        The headline figure (PNG) written under the study's ``out_dir``.
    reading : str
        A few plain sentences: what the numbers say, including anything that disagrees.
    cost : dict
        What the study spent (shots, circuits, examples, backward passes, embryos, wall_s, …).
    config : dict
        The inputs that determine the numbers (with the seed), for the results store.
    """

    domain: str
    records: tuple[SignalNoise, ...]
    localization_unit: str
    figure: Path | None
    reading: str
    cost: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


class ReportStudy(Protocol):
    def __call__(self, *, quick: bool = False, rng: Any = None, out_dir: Path,
                 progress: ProgressCallback | None = None) -> DomainStudy: ...
