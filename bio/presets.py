"""Named morphogen systems: kinetics, tissue, cells and readout noise, with units and sources.

Units: D in µm²/s, k in 1/s, lengths in µm, the source flux j0 in molecules/(µm²·s),
concentrations in molecules/µm³ (1 nM ≈ 0.602 molecules/µm³), cell volumes in µm³.

Every value is either published (with its source) or an assumption (marked as such); any of them
can be replaced with :func:`get_preset` keyword overrides or from the CLI.

- ``dpp`` — Dpp in the *Drosophila* wing disc (Kicheva et al. 2007, Science 315, 521):
  D = 0.10 µm²/s, k = 2.52e-4 /s, so λ ≈ 19.9 µm (measured 20.2 ± 5.7 µm); accumulation times
  ≈ 33 min at the source and 66 min at x = λ.  Assumptions: a 200 µm model tissue (10 λ, so the
  far end does not matter), cell diameter 2.5 µm, source concentration 50 molecules/µm³, boundary
  (e.g. *spalt*) at 2λ ≈ 40 µm, Poisson counting in a 100 µm³ cell.
- ``bicoid`` — Bicoid in the *Drosophila* embryo (Gregor et al. 2007, Cell 130, 141 and 153):
  λ = 100 µm ≈ 0.2 EL, EL = L = 500 µm, concentration noise CV 0.1 → σx ≈ 10 µm ≈ 2% EL;
  internuclear spacing ≈ 10 µm (the "one nucleus"), source concentration ≈ 55 nM ≈ 33
  molecules/µm³; the Hunchback boundary at 0.48 EL = 240 µm.  k = 1/(50 min) from the Bcd
  lifetime (Drocco et al. 2011, Biophys. J. 101, 1807), hence D = λ²k ≈ 3.3 µm²/s (within the
  measured 0.3–7 µm²/s).  Nuclear volume 140 µm³, sensor size a = 3 µm (Gregor et al. 2007).
- ``ra-hindbrain`` — retinoic acid in the zebrafish hindbrain (Sosnik et al. 2016, eLife 5,
  e14034): RA made posteriorly (x = 0 at the posterior source, x increasing anteriorly) and
  degraded by Cyp26; the anterior Hoxb4 boundary where RA falls to a threshold.  **No RA
  kinetics or threshold are published: all are assumptions** — effective D = 5 µm²/s (RA bound to
  Crabp), k = 2e-3 /s (Cyp26), so λ = 50 µm; tissue 300 µm; cell diameter 8 µm; Hoxb4 boundary
  100 µm (2λ) from the source; RA ≈ 10 nM ≈ 6 molecules/µm³ at the source; single-shot readout
  noise CV 0.45 (the upper end of the cell-to-cell spread Sosnik et al. report, ~45% of the
  gradient's span); successive readouts independent after one RA fluctuation period, 2.7 min.
  Knocking down Crabp2a raises the noise (``noise``), Cyp26a1 moves the mean (``k``).
- ``shh-neural-tube`` — Sonic hedgehog in the mouse neural tube (Cohen et al. 2015, Nat. Commun.
  6, 6709: λ ≈ 20 µm; Vetter & Iber 2022, Nat. Commun. 13, 1145: cell diameter λ/4 ≈ 5 µm,
  kinetic CV 0.3 for production, degradation and diffusion of every cell).  Assumptions:
  D = 0.033 µm²/s, k = D/λ², tissue 200 µm, a floor-plate source of 5 cells, boundary at 2λ.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from crossnoise.validation import InputError, check_choice, check_positive_float, check_positive_int

__all__ = ["Preset", "PRESETS", "get_preset", "preset_names"]


@dataclass(frozen=True, slots=True)
class Preset:
    """A morphogen system.

    Attributes
    ----------
    name : str
    D, k : float
        Diffusion (µm²/s) and degradation (1/s).
    L : float
        Tissue length (µm), source at x = 0, no flux at L.
    j0 : float
        Source flux (molecules/(µm²·s)); :math:`c(0) \\approx j_0\\lambda/D`.
    cell_diameter : float
        Δx (µm), the resolution step of the positional error.
    boundary_um : float
        Nominal boundary: the threshold is the steady concentration there unless ``threshold``.
    threshold : float or None
        Readout threshold θ (molecules/µm³); None = :math:`c_s(\\text{boundary\\_um})`.
    noise : str
        Default readout-noise spec (see :func:`crossnoise.bio.noise.parse_noise`).
    cell_volume, sensor_size : float
        Counting volume (µm³) for Poisson noise; sensor size a (µm) for Berg–Purcell.
    readout_interval_s : float
        Time after which two readouts of one cell are independent (s), for time averaging.
    cv_amplitude, cv_lambda : float
        Embryo-to-embryo CVs of the amplitude and of the decay length (lognormal).
    kinetic_cv : float
        Cell-to-cell CV of production, degradation and diffusion (0: uniform tissue).
    source_cells : int
        Cells of the source (production) domain in the cell-based model.
    """

    name: str
    D: float
    k: float
    L: float
    j0: float
    cell_diameter: float
    boundary_um: float
    noise: str
    cell_volume: float
    sensor_size: float
    readout_interval_s: float
    threshold: float | None = None
    cv_amplitude: float = 0.0
    cv_lambda: float = 0.0
    kinetic_cv: float = 0.0
    source_cells: int = 1

    @property
    def lambda_um(self) -> float:
        """:math:`\\lambda = \\sqrt{D/k}` (µm)."""
        return math.sqrt(self.D / self.k)

    @property
    def c0(self) -> float:
        """Steady concentration at the source, finite tissue (molecules/µm³)."""
        from crossnoise.bio.steady import amplitude

        return amplitude(self.D, self.k, self.j0, self.L)

    @property
    def theta(self) -> float:
        """The readout threshold θ actually used (molecules/µm³)."""
        if self.threshold is not None:
            return self.threshold
        from crossnoise.bio.steady import steady_state

        return float(steady_state(self.boundary_um, self.D, self.k, self.j0, self.L))

    @property
    def n_cells(self) -> int:
        """Cells along the patterning axis, ⌊L/Δx⌉."""
        return max(2, int(round(self.L / self.cell_diameter)))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(lambda_um=self.lambda_um, c0=self.c0, theta=self.theta)
        return d


def _j0_for(c0: float, D: float, k: float, L: float) -> float:
    lam = math.sqrt(D / k)
    return c0 * D / lam * math.tanh(L / lam)


_DPP_D, _DPP_K = 0.10, 2.52e-4
_BCD_K = 1.0 / 3000.0
_BCD_D = 100.0**2 * _BCD_K
_RA_D, _RA_K = 5.0, 2.0e-3
_SHH_D = 0.033
_SHH_K = _SHH_D / 20.0**2

PRESETS: dict[str, Preset] = {
    "dpp": Preset("dpp", _DPP_D, _DPP_K, 200.0, _j0_for(50.0, _DPP_D, _DPP_K, 200.0), 2.5,
                  2 * math.sqrt(_DPP_D / _DPP_K), "poisson", 100.0, 2.0, 60.0),
    "bicoid": Preset("bicoid", _BCD_D, _BCD_K, 500.0, _j0_for(33.0, _BCD_D, _BCD_K, 500.0), 10.0, 240.0,
                     "cv:0.1", 140.0, 3.0, 60.0),
    "ra-hindbrain": Preset("ra-hindbrain", _RA_D, _RA_K, 300.0, _j0_for(6.0, _RA_D, _RA_K, 300.0), 8.0, 100.0,
                           "cv:0.45", 500.0, 8.0, 162.0),
    "shh-neural-tube": Preset("shh-neural-tube", _SHH_D, _SHH_K, 200.0, _j0_for(10.0, _SHH_D, _SHH_K, 200.0),
                              5.0, 40.0, "none", 50.0, 5.0, 60.0, kinetic_cv=0.3, source_cells=5),
}

_FLOAT_FIELDS = ("D", "k", "L", "j0", "cell_diameter", "boundary_um", "cell_volume", "sensor_size",
                 "readout_interval_s")
_CV_FIELDS = ("cv_amplitude", "cv_lambda", "kinetic_cv")


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str, **overrides: Any) -> Preset:
    """The preset ``name`` with any fields replaced; ``None`` overrides are ignored.

    Raises :class:`~crossnoise.validation.InputError` for an unknown name (listing the presets),
    a non-positive D, k, L or j0, a boundary outside the tissue, or a threshold outside the
    gradient's range.

    Examples
    --------
    >>> p = get_preset("dpp")
    >>> round(p.lambda_um, 1)
    19.9
    >>> get_preset("dpp", k=1e-3).lambda_um
    10.0
    """
    check_choice(name, "preset", PRESETS)
    base = PRESETS[name]
    clean = {key: v for key, v in overrides.items() if v is not None}
    unknown = set(clean) - {f.name for f in dataclasses.fields(Preset)}
    if unknown:
        raise InputError(f"unknown preset parameter(s) {sorted(unknown)}; accepted: "
                         f"{', '.join(f.name for f in dataclasses.fields(Preset))}.")
    for key in _FLOAT_FIELDS:
        if key in clean:
            clean[key] = check_positive_float(clean[key], key)
    for key in _CV_FIELDS:
        if key in clean:
            clean[key] = check_positive_float(clean[key], key, allow_zero=True)
    if "source_cells" in clean:
        clean["source_cells"] = check_positive_int(clean["source_cells"], "source_cells")
    if "threshold" in clean:
        clean["threshold"] = check_positive_float(clean["threshold"], "threshold")
    p = dataclasses.replace(base, **clean)
    if not 0 < p.boundary_um < p.L:
        raise InputError(f"`boundary_um` must lie inside the tissue (0, {p.L:g}) µm; got {p.boundary_um:g}.")
    if p.cell_diameter >= p.L / 2:
        raise InputError(f"`cell_diameter` must be below L/2 = {p.L / 2:g} µm; got {p.cell_diameter:g}.")
    if p.threshold is not None:
        from crossnoise.bio.steady import threshold_position

        threshold_position(p.threshold, p.D, p.k, p.j0, p.L)  # raises with the range if outside
    return p
