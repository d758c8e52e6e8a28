# Grid emulator: multi-area LFC dynamics, worlds, scenarios, trace replay, baseline TSO LFC.
from .model import Model
from .sim import Simulator
from .trace import TraceError, load_trace
from .world import World, WorldError, load_world

__all__ = ["Model", "Simulator", "TraceError", "World", "WorldError", "load_trace",
           "load_world"]
