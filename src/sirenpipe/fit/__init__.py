"""Overfit an INR to one clip (the encoder's expensive half), or several clips at once.

FitConfig (:mod:`.config`) needs no torch; the trainer (:mod:`.trainer`) is imported on first use.
"""

from .._lazy import lazy_exports
from .config import DEFAULT_LOSS_WEIGHTS, LATENT_LR, LATENT_RATE_WEIGHT, LOSSES, PRECISIONS, FitConfig

__getattr__ = lazy_exports(__name__, {".trainer": ("FitResult", "Trainer", "fit", "fit_many", "time_grid")})

__all__ = ["DEFAULT_LOSS_WEIGHTS", "LATENT_LR", "LATENT_RATE_WEIGHT", "LOSSES", "PRECISIONS", "FitConfig", "FitResult", "Trainer", "fit", "fit_many", "time_grid"]
