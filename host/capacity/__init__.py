"""Cross-zonal capacity for aFRR: NTC = TTC - TRM, free capacity, TRM from flow data, FS limit.

Units: MW here (capacity calculation works in MW); host.market works in kW, use to_market_kw().
Direction: a border (a, b) carries a value per direction, (a->b, b->a).
"""
from .ntc import BorderCapacity, free_capacity_kw, ntc_mw, ttc_mw
from .trm import FIRST_MONTH_TRM_MW, FlowFileError, read_flows, trm_by_month, trm_for_window

__all__ = ["BorderCapacity", "ttc_mw", "ntc_mw", "free_capacity_kw", "read_flows",
           "trm_by_month", "trm_for_window", "FlowFileError", "FIRST_MONTH_TRM_MW"]
