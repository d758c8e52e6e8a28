"""Seeded bid generator: reproducible, volumes whole MW >= 1 MW summing to the spec, no crossing."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.market import DOWN, UP
from host.market.bids import BidSpec, generate_bids


def test_same_seed_same_bids_other_seed_other_bids():
    specs = {"LT": BidSpec(), "LV": BidSpec(volume_mw=50, n_bids=5)}
    assert generate_bids(specs, 3, mtu=5) == generate_bids(specs, 3, mtu=5)
    assert generate_bids(specs, 3, mtu=5) != generate_bids(specs, 4, mtu=5)
    assert generate_bids(specs, 3, mtu=5) != generate_bids(specs, 3, mtu=6)


@given(st.floats(0, 500), st.integers(1, 30), st.integers(0, 10_000))
def test_volumes_and_prices(volume, n, seed):
    bids = generate_bids({"EE": BidSpec(volume_mw=volume, n_bids=n)}, seed)
    for d in (UP, DOWN):
        mine = [b for b in bids if b.direction == d]
        assert len(mine) == min(n, int(volume))
        assert sum(b.volume_kw for b in mine) == 1000 * int(volume)
        assert all(b.volume_kw >= 1000 and b.volume_kw % 1000 == 0 for b in mine)
    ups = [b.price_eur_mwh for b in bids if b.direction == UP]
    downs = [b.price_eur_mwh for b in bids if b.direction == DOWN]
    if ups and downs:
        assert min(ups) > max(downs)


def test_bad_spec():
    with pytest.raises(ValueError, match="n_bids"):
        BidSpec(n_bids=0)
    with pytest.raises(ValueError, match="volume_mw"):
        BidSpec(volume_mw=-1)
