"""The encoder: a clip to a .sirn stream, through its model family (sirenpipe.families).
:mod:`.api` (encode_clip, encode_at_rate, encode_fitted), :mod:`.choice` (the decoder variant a
stream names), :mod:`.ratecontrol` (aiming at a bitrate, across families) and :mod:`.rate_model`
(what rate control plans from: its schema, file and provenance).

Rate control and the rate model need no torch; the rest is imported on first use.
"""

from .._lazy import lazy_exports
from .rate_model import RateModel, install_rate_model, load_rate_model
from .ratecontrol import RatePlan, plan_rate

__getattr__ = lazy_exports(
    __name__,
    {
        ".api": ("Encoded", "encode_at_rate", "encode_clip", "encode_fitted"),
        ".choice": ("choose_variant",),
    },
)

__all__ = [
    "Encoded",
    "RateModel",
    "RatePlan",
    "choose_variant",
    "encode_at_rate",
    "encode_clip",
    "encode_fitted",
    "install_rate_model",
    "load_rate_model",
    "plan_rate",
]
