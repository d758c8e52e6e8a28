# Metrics a TSO or a prequalification engineer applies: FRCE, frequency quality, acceptance, energy.
from .acceptance import AcceptanceResult, evaluate, prequalification_steps
from .energy import elia_minute_table, isp_energy
from .frce import frce_quality
from .frequency import frequency_quality

__all__ = ["AcceptanceResult", "elia_minute_table", "evaluate", "frce_quality",
           "frequency_quality", "isp_energy", "prequalification_steps"]
