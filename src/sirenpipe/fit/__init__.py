"""Overfit a model to one clip (the encoder's expensive half): the SIREN family's trainer (several
clips at once too) and the latent-grid family's.

The settings (:mod:`.config`, :mod:`.latent_config`) need no torch; the trainers are imported on
first use.
"""

from .._lazy import lazy_exports
from .config import DEFAULT_LOSS_WEIGHTS, LOSSES, PRECISIONS, FitConfig, objective_weight
from .latent_config import LatentFitConfig, Phase

__getattr__ = lazy_exports(__name__, {".trainer": ("FitResult", "Trainer", "fit", "fit_many", "time_grid"),
                                      ".latent_trainer": ("fit_latent",)})

__all__ = ["DEFAULT_LOSS_WEIGHTS", "LOSSES", "PRECISIONS", "FitConfig", "FitResult", "LatentFitConfig", "Phase", "Trainer",
           "fit", "fit_latent", "fit_many", "objective_weight", "time_grid"]
