"""The encoder: a clip to a .sirn stream. It sits above the fit and the metrics and writes the
format of :mod:`sirenpipe.codec`: :mod:`.api` (encode_clip, encode_at_rate, compress_within),
:mod:`.choice` (the decoder variant a stream names), :mod:`.ratecontrol` (aiming at a bitrate) and
:mod:`.rate_model` (what rate control plans from: its schema, file and provenance).

Rate control and the rate model need no torch; the rest is imported on first use.
"""

from .._lazy import lazy_exports
from .rate_model import RateModel, Recipe, install_rate_model, load_rate_model
from .ratecontrol import RATE_CONTROLLED, RatePlan, plan_rate

__getattr__ = lazy_exports(
    __name__,
    {
        ".api": ("Encoded", "compress_within", "encode_at_rate", "encode_clip"),
        ".choice": ("choose_variant",),
    },
)

__all__ = [
    "RATE_CONTROLLED",
    "Encoded",
    "RateModel",
    "RatePlan",
    "Recipe",
    "choose_variant",
    "compress_within",
    "encode_at_rate",
    "encode_clip",
    "install_rate_model",
    "load_rate_model",
    "plan_rate",
]
