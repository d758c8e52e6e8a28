"""IGCC imbalance netting: the price-free special case of the activation optimiser (no bids).

With no bids, the activation LP (host.market.optimiser) only trades upward demand of one area
against downward demand of another, each netted kW worth the same (price cap - price floor), so
its optimum is a maximum flow: from a source to every area with downward demand (capacity: that
demand), along the borders (capacity: the free capacity each way), to a sink from every area with
upward demand. net() computes that flow directly (shortest augmenting paths, Edmonds-Karp): the
emulator nets every 4 s cycle, and a few dict operations on a handful of areas cost a fraction of
building or even re-solving the LP. Where the largest netted volume can be reached in several
ways (two surplus areas, either could give), the paths are searched in a fixed order (areas and
borders as given), so the result is a function of the arguments alone.
tests/test_market_netting_exact.py checks on random instances that the netted volume equals the
LP's optimum, that every area's netted volume lies in the LP's optimal range (equal to the LP's
wherever that range is one point), and the guarantees below.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from .optimiser import _check_cap

_REL_TOL = 1e-12    # residual capacity below this share of the largest demand counts as none


@dataclass
class NetResult:
    """Outcome of netting. kW throughout; demand + = upward (deficit), - = downward."""
    after_kw: dict          # area -> demand left after netting (same sign, |after| <= |before|)
    exchange_kw: dict       # (a, b) -> kW exchanged for netting, + = a to b
    netted_up_kw: dict      # area -> upward demand covered by netting (IGCC+ import), >= 0
    netted_down_kw: dict    # area -> downward demand covered by netting (IGCC- export), >= 0


def net(demands_kw: dict[str, float],
        borders: dict[tuple[str, str], tuple[float, float]]) -> NetResult:
    """Net opposite aFRR demands across borders within their free capacity.

    demands_kw: area -> kW, + = upward aFRR demand (area deficit), - = downward.
    borders: (a, b) -> (free capacity a->b kW, free capacity b->a kW); math.inf allowed.
    Maximises the netted volume, as ActivationOptimiser with an empty bid list does.
    Guarantees (bounds clipped exactly): |after| <= |before|, no sign flip, every border flow
    within its free capacity, and each area's balance holds. The result depends on the
    arguments only.
    """
    areas = list(dict.fromkeys(list(demands_kw) + [x for e in borders for x in e]))
    ix = {a: i for i, a in enumerate(areas)}
    n = len(areas)
    d = [0.0] * n
    for a, v in demands_kw.items():
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"demand of {a!r} must be finite, got {v!r}")
        d[ix[a]] = v
    # edges [tail, head, lo, hi, flow]: flow in [lo, hi], + = tail to head
    src, snk = n, n + 1
    edges = []
    for e, (ab, ba) in borders.items():
        a, b = e
        if a == b:
            raise ValueError(f"border {e!r} joins an area to itself")
        edges.append([ix[a], ix[b], -_check_cap(f"border {e!r} b->a", ba),
                      _check_cap(f"border {e!r} a->b", ab), 0.0])
    n_b = len(edges)
    for i in range(n):
        if d[i] < 0.0:
            edges.append([src, i, 0.0, -d[i], 0.0])      # downward demand: it can give
        elif d[i] > 0.0:
            edges.append([i, snk, 0.0, d[i], 0.0])       # upward demand: it can take
    if n_b < len(edges):
        _max_flow(edges, n + 2, src, snk, _REL_TOL * max(abs(v) for v in d))
    up = [0.0] * n
    down = [0.0] * n
    for t, h, _lo, hi, f in edges[n_b:]:
        if t == src:
            down[h] = min(max(f, 0.0), hi)
        else:
            up[t] = min(max(f, 0.0), hi)
    return NetResult(
        after_kw={a: d[i] - (up[i] - down[i]) for i, a in enumerate(areas)},
        exchange_kw={e: min(max(ed[4], ed[2]), ed[3]) for e, ed in zip(borders, edges)},
        netted_up_kw=dict(zip(areas, up)),
        netted_down_kw=dict(zip(areas, down)))


def _max_flow(edges, n_nodes, src, snk, tol):
    """Edmonds-Karp on edges [tail, head, lo, hi, flow] (lo <= 0 <= hi), flows set in place."""
    adj = [[] for _ in range(n_nodes)]     # node -> [(edge, +1 forward / -1 backward)]
    for k, (t, h, _lo, _hi, _f) in enumerate(edges):
        adj[t].append((k, 1))
        adj[h].append((k, -1))
    while True:
        prev = [None] * n_nodes
        prev[src] = (-1, 0)
        queue = deque([src])
        while queue and prev[snk] is None:
            u = queue.popleft()
            for k, s in adj[u]:
                ed = edges[k]
                v = ed[1] if s > 0 else ed[0]
                if prev[v] is None and (ed[3] - ed[4] if s > 0 else ed[4] - ed[2]) > tol:
                    prev[v] = (k, s)
                    queue.append(v)
        if prev[snk] is None:
            return
        push = math.inf
        v = snk
        while v != src:
            k, s = prev[v]
            ed = edges[k]
            push = min(push, ed[3] - ed[4] if s > 0 else ed[4] - ed[2])
            v = ed[0] if s > 0 else ed[1]
        v = snk
        while v != src:
            k, s = prev[v]
            ed = edges[k]
            ed[4] += push * s
            v = ed[0] if s > 0 else ed[1]
