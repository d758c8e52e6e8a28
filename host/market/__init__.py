"""Balancing market layer: PICASSO-style aFRR activation optimiser and IGCC netting.

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
