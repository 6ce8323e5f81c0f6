import numpy as np
import pytest

from crossnoise.bio.lattice import Lattice, fano_test, lattice_mean, ssa_direct, ssa_particles, tau_leap
from crossnoise.bio.solver import steady_state_numeric
from crossnoise.validation import InputError

# λ = √(hop/k) = 1.41 sites: 20 molecules per second into site 0, 40 molecules at steady state
FAST = Lattice(n_sites=6, production=20.0, degradation=0.5, hop=1.0)


def _check_poisson(res, z_max=4.0):
    """Fano factor 1 and means m at every site.  SE(F) = √(2/M) (delta method for Poisson);
    means: SE √(m/M).  With ≤ 6 sites, a 4-SE bound fails by chance with p ≈ 4e-4."""
    assert np.all(np.abs(res.fano_z) < z_max), res.to_dict()
    assert res.mean_z < z_max, res.to_dict()


@pytest.mark.filterwarnings("ignore:grid too coarse")
def test_lattice_mean_is_the_discretised_sdd_model():
    # hop = D/h² with h = 1: the FV scheme with D = hop, flux = production
    _, c = steady_state_numeric(1.0, 0.5, 20.0, 6.0, n_cells=6)
    assert np.allclose(lattice_mean(FAST), c)
    assert lattice_mean(FAST).sum() == pytest.approx(20.0 / 0.5)


def test_particle_ssa_fano_factor_is_one_at_every_site():
    res = fano_test(FAST, n_embryos=2000, method="particle", rng=1)
    _check_poisson(res)
    assert res.to_dict()["fano_mean"] == pytest.approx(1.0, abs=4 * np.sqrt(2 / 2000))


def test_direct_ssa_fano_factor_is_one_at_every_site():
    res = fano_test(FAST, n_embryos=1000, method="ssa", rng=2)
    _check_poisson(res)


def test_tau_leap_fano_factor_is_one_and_mean_bias_is_small():
    """Binomial leaping keeps molecules independent: the law stays a product of Poissons; the means
    carry an O(rτ) bias (here rτ = 0.05), so allow 4 SE plus 5% of the mean."""
    res = fano_test(FAST, n_embryos=1000, method="tau", tau=0.02, rng=3)
    assert np.all(np.abs(res.fano_z) < 4.0)
    m = res.expected_mean
    assert np.all(np.abs(res.mean - m) < 4 * np.sqrt(m / 1000) + 0.05 * m)


def test_particle_and_direct_ssa_agree_on_a_time_course():
    """Same chain, two exact algorithms: compare mean occupancy over time at site 0 and the total
    (Welch z < 4.5 over 2 × 6 comparisons)."""
    t = np.array([0.5, 2.0, 8.0])
    a = ssa_particles(FAST, 8.0, n_embryos=3000, record_times=t, rng=4).states
    b = ssa_direct(FAST, 8.0, n_embryos=3000, record_times=t, rng=5).states
    for xa, xb in ((a[:, :, 0], b[:, :, 0]), (a.sum(axis=2), b.sum(axis=2))):
        z = (xa.mean(0) - xb.mean(0)) / np.sqrt(xa.var(0, ddof=1) / 3000 + xb.var(0, ddof=1) / 3000)
        assert np.all(np.abs(z) < 4.5), z
    # the total is Poisson with mean (p/k)(1 − e^{−kt}) from empty
    expect = 20.0 / 0.5 * (1 - np.exp(-0.5 * t))
    assert np.allclose(a.sum(axis=2).mean(0), expect, atol=4 * np.sqrt(expect / 3000).max())


def test_reproducible_and_validated():
    a = ssa_particles(FAST, 3.0, n_embryos=50, rng=9).states
    assert np.array_equal(a, ssa_particles(FAST, 3.0, n_embryos=50, rng=9).states)
    assert not np.array_equal(a, ssa_particles(FAST, 3.0, n_embryos=50, rng=10).states)
    with pytest.raises(InputError, match="`sites`"):
        Lattice(1, 1.0, 1.0, 1.0)
    with pytest.raises(InputError, match="`production`"):
        Lattice(5, 0.0, 1.0, 1.0)
    with pytest.raises(InputError, match="`tau`"):
        tau_leap(FAST, 1.0, tau=1.0)
    with pytest.raises(InputError, match="`embryos`"):
        fano_test(FAST, n_embryos=0)
    with pytest.raises(InputError, match="`method`"):
        fano_test(FAST, n_embryos=100, method="euler")


@pytest.mark.slow
def test_fifty_site_lattice_fano_all_methods():
    """The benchmark lattice (50 sites, p = 10, k = 0.1, hop = 1): Fano 1 on every site holding ≥ 1
    molecule, for the exact particle SSA with 4000 embryos (SE 0.022)."""
    lat = Lattice(50, 10.0, 0.1, 1.0)
    res = fano_test(lat, n_embryos=4000, method="particle", rng=6)
    assert np.all(np.abs(res.fano_z) < 4.5)
    assert res.mean_rel_error < 0.01
