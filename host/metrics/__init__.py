# Metrics a TSO or a prequalification engineer applies: FRCE, frequency quality, acceptance, energy.
from .acceptance import acceptance_channel
from .energy import elia_minute_table, isp_energy
from .frce import frce_quality
from .frequency import frequency_quality

__all__ = ["acceptance_channel", "elia_minute_table", "frce_quality", "frequency_quality",
           "isp_energy"]
