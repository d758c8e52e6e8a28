# Unit plant models: battery and flexible load turning a set-point into delivered power.
from .models import Battery, FlexLoad, PlantError

__all__ = ["Battery", "FlexLoad", "PlantError"]
