"""INR models: configurations and presets (:mod:`.config`, no torch) and the network (:mod:`.inr`,
imported on first use of INR or build_model)."""

from .._lazy import lazy_exports
from .config import (ARCHITECTURES, PRESETS, INRConfig, input_weight_names, model_config, register_architecture,
                     register_preset)

__getattr__ = lazy_exports(__name__, {".inr": ("INR", "build_model")})

__all__ = [
    "INR",
    "INRConfig",
    "ARCHITECTURES",
    "PRESETS",
    "build_model",
    "input_weight_names",
    "model_config",
    "register_architecture",
    "register_preset",
]
