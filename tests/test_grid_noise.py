# The load noise's AR(1) recursion (host.grid.scenario.ar1) against scipy's lfilter and by hand.
import numpy as np
import pytest
from scipy.signal import lfilter

from host.grid.scenario import ar1


def test_by_hand():
    # y0 = 2, a = 0.5: y = 0.5*2 + 1 = 2, 0.5*2 + 0 = 1, 0.5*1 - 3 = -2.5
    assert ar1([1.0, 0.0, -3.0], 0.5, 2.0).tolist() == [2.0, 1.0, -2.5]
    assert ar1([], 0.5, 2.0).tolist() == []


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 36000])
@pytest.mark.parametrize("a", [0.0, 0.3, 0.99917, 0.9999999])
def test_equals_lfilter_across_blocks(n, a):
    rng = np.random.default_rng(n)
    e = rng.standard_normal(n) * 100.0
    y0 = 123.0
    ref, _ = lfilter([1.0], [1.0, -a], e, zi=[a * y0])
    got = ar1(e, a, y0)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)


def test_chunks_continue_like_one_run():
    rng = np.random.default_rng(1)
    e = rng.standard_normal(5000)
    whole = ar1(e, 0.999, 0.0)
    first = ar1(e[:1234], 0.999, 0.0)
    second = ar1(e[1234:], 0.999, first[-1])
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12, atol=1e-12)
