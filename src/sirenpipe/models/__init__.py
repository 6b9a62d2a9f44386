from .inr import INR, INRConfig
from .registry import ARCHITECTURES, PRESETS, build_model, model_config, register_architecture, register_preset

__all__ = [
    "INR",
    "INRConfig",
    "ARCHITECTURES",
    "PRESETS",
    "build_model",
    "model_config",
    "register_architecture",
    "register_preset",
]
