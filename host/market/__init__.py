"""Balancing market layer: PICASSO-style aFRR activation optimiser and IGCC netting.

Modules: optimiser (the welfare LP, CBMP from duals, linprog or warm-started highspy),
netting (net(): what the same LP nets without bids, as a maximum flow), bids (seeded
generator), publication (Elia-style per-minute table, settlement, plot), run (MarketLfc /
MarketRun over the grid emulator, market TOML files). Capacity (NTC, TRM,
frequency-stability limit) lives in host.capacity.

Sign conventions (written once, here): demand and satisfied demand in kW, + = upward aFRR
(area deficit), - = downward; exchange on border (a, b) in kW, + = a to b; prices EUR/MWh,
for a downward bid + = the BSP pays the TSO. Free capacity per border: (a->b, b->a) kW.
"""
from .netting import NetResult, net
from .optimiser import (
                        DOWN,
                        PRICE_CAP_EUR_MWH,
                        PRICE_FLOOR_EUR_MWH,
                        UP,
                        ActivationOptimiser,
                        Bid,
                        ClearingResult,
                        clear,
)

__all__ = ["net", "NetResult", "clear", "Bid", "ClearingResult", "ActivationOptimiser", "UP",
           "DOWN", "PRICE_CAP_EUR_MWH", "PRICE_FLOOR_EUR_MWH"]
