"""INR models: configurations and presets (:mod:`.config`, no torch) and the network (:mod:`.inr`,
imported on first use of INR or build_model)."""

from .._lazy import lazy_exports
from .config import (ARCHITECTURES, PRESETS, INRConfig, ModelConfig, config_from_dict, input_weight_names, model_config,
                     register_architecture, register_preset)
from .latent_config import LatentGridConfig

__getattr__ = lazy_exports(__name__, {".inr": ("INR", "build_model"), ".latent": ("LatentGridModel",)})

__all__ = [
    "INR",
    "INRConfig",
    "LatentGridConfig",
    "LatentGridModel",
    "ModelConfig",
    "config_from_dict",
    "ARCHITECTURES",
    "PRESETS",
    "build_model",
    "input_weight_names",
    "model_config",
    "register_architecture",
    "register_preset",
]
