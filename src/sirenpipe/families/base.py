"""The model-family interface: what every family implements, and what the layers above call.

A family owns its model config (models/), its fit settings and fit (fit/), its stream payload
(codec/), synthesis, what `info` and the score tables say of a stream, and its rows of the rate
model with the plans made from them. The encoder's front door, the decoder, rate control, the
CLI and the workflow dispatch through this interface (sirenpipe.families finds a family by name,
config, preset or stream).

No torch here: the workflow and rate control use the interface at parse time; a family imports
its trainer and model on first use.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from ..errors import SirenpipeError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..codec.header import DecodedStream, StreamHeader

Clip = Any  # an audio.Clip (samples, sample_rate, peak_scale): the encoder's input


# The rate model's quality columns, each a mean over the sweep's clips, and the one plans maximize
# (PESQ-WB, over the sweep's speech clips): every family's rows have them.
QUALITY_COLUMNS = ("psnr", "pesq", "visqol")
SELECT_BY = "pesq"


@dataclass
class Encoded:
    """A clip encoded by a family: the stream and how it was made."""

    data: bytes  # the .sirn bitstream
    fit: Any  # the fit's FitResult; .model is the fitted model (for the latent grid, the decoder's)
    variant: str  # the decoder variant the stream names as its default
    stream_config: Any = None  # the family's stream settings as written (the SIREN's QuantConfig; None: none)
    report: dict = field(default_factory=dict)  # what the family says of its quantization (describe_encoded)
    plan: Any = None  # rate control's plan (encode_at_rate)

    @property
    def family(self) -> str:
        return self.fit.model.config.family


@dataclass(frozen=True)
class PlanCandidate:
    """A family's best model and recipe for a byte budget, as its rows of the rate model predict."""

    family: str
    preset: str | None  # the preset whose model this is, which the stream names (None: a model no preset names)
    model: Any  # the model config to fit
    recipe: Any  # the family's recipe: fit_settings(), stream_settings(), describe()
    predicted_bytes: int  # the stream's predicted size (at most the budget)
    predicted_quality: float  # the rate model's quality column at this size (rate_model.SELECT_BY)

    def describe(self) -> str:
        return self.recipe.describe_plan(self)


class ModelFamily(ABC):
    """One model family. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]  # the registry's key, the config's `family`, the stream header's `family`
    label: ClassVar[str]  # for people
    # settings: the names of the fit settings and the stream settings it takes (the workflow's
    # `fit:` and `quant:` keys, the CLI's options), and the sections rate control sets itself
    fit_options: ClassVar[tuple[str, ...]]
    stream_options: ClassVar[tuple[str, ...]] = ()
    rate_controlled: ClassVar[dict[str, tuple[str, ...]]]  # config section -> fields a target bitrate chooses
    batches_clips: ClassVar[bool] = False  # whether several clips can share one fit (the workflow's clips_per_fit)
    fits_to_rate: ClassVar[bool] = False  # whether its fit aims at a byte budget (else only freezing does)
    # the stream: the format versions it reads and writes, and those whose headers name no family
    # but hold this one (streams written before the header named its family)
    versions: ClassVar[tuple[int, ...]]
    legacy_versions: ClassVar[tuple[int, ...]] = ()
    # its rows of the rate model: their columns besides `family` and the quality columns, and the
    # rate-model schemas from before families whose rows are all this family's
    rate_columns: ClassVar[tuple[str, ...]]
    legacy_rate_schemas: ClassVar[tuple[int, ...]] = ()

    # --- settings (no torch) ------------------------------------------------------------------
    @abstractmethod
    def fit_config(self, settings: dict):
        """The family's fit settings from {name: value}, its defaults for the rest; a name it does
        not take is a ValueError."""

    def stream_config(self, settings: dict, encoder_defaults: bool = False):
        """The family's stream settings from {name: value} (None: a family without any);
        encoder_defaults: `sirenpipe encode`'s defaults where they differ from the library's."""
        refuse(self, settings, self.stream_options, "stream")
        return None

    def fit_sees_stream(self, fit_config) -> bool:
        """Whether a fit with these settings trains through the stream settings (the SIREN's QAT)."""
        return False

    def auto_clips_per_fit(self, fit_config, clip_samples: int | None) -> int:
        """How many clips the workflow fits together when an ablation says `auto`."""
        return 1

    def check_fit_config(self, fit_config) -> None:
        """Refuse fit settings of another family, in one line."""
        expected = type(self.fit_config({}))
        if not isinstance(fit_config, expected):
            raise ValueError(f"{type(fit_config).__name__} is not the {self.label} family's fit settings "
                             f"({expected.__name__}); pass one of those, or a dict of settings")

    # --- encoding -----------------------------------------------------------------------------
    @abstractmethod
    def fit(self, clip: Clip, config, fit_config, stream_config, budget_bytes: int | None, progress: bool):
        """Fit a model to the clip: a fit.trainer.FitResult (model on the CPU)."""

    @abstractmethod
    def freeze(self, result, clip: Clip, stream_config, budget_bytes: int | None, preset: str | None) -> tuple[Any, Any, dict]:
        """(the quantized model ready to serialize, the stream settings used, a report) of a fit
        whose stream, naming `preset`, is to fit budget_bytes."""

    @abstractmethod
    def serialize(self, frozen, clip: Clip, preset: str | None, variant: str | None) -> bytes:
        """The .sirn stream of a frozen model, naming `variant` as its decoder's default."""

    def fit_many(self, clips: list, config, fit_config, stream_config, progress: bool = True) -> list:
        """One fit per clip, several clips (of one length and rate) in one batched model: the
        families that set batches_clips."""
        raise ValueError(f"the {self.label} family fits one clip at a time")

    def fit_within(self, clip: Clip, config, fit_config, stream_config, budget_bytes: int | None,
                   preset: str | None = None, progress: bool = True) -> tuple[Any, tuple | None]:
        """(a fit whose stream fits budget_bytes, its freeze if this made one): one fit by default
        (a family that meets a budget by fitting again overrides it)."""
        return self.fit(clip, config, fit_config, stream_config, budget_bytes, progress), None

    def encode(self, clip: Clip, config, fit_config, stream_config, *, budget_bytes: int | None = None,
               preset: str | None = None, choose: Callable[[bytes, Clip], str] | None = None,
               progress: bool = True) -> Encoded:
        """Fit, freeze and serialize (encode_fitted)."""
        result, frozen = self.fit_within(clip, config, fit_config, stream_config, budget_bytes, preset, progress)
        return self.encode_fitted(result, clip, stream_config, budget_bytes=budget_bytes, preset=preset, choose=choose,
                                  frozen=frozen)

    def encode_fitted(self, result, clip: Clip, stream_config, *, budget_bytes: int | None = None,
                      preset: str | None = None, choose: Callable[[bytes, Clip], str] | None = None,
                      frozen: tuple | None = None) -> Encoded:
        """Freeze a fit (unless `frozen` is its freeze) and serialize it; the stream names the
        decoder variant `choose(stream, clip)` measures best, sized with the longest variant name
        while it is chosen, so that the choice cannot change which budget it meets."""
        from ..codec.variants import allowed_variants

        frozen, used, report = frozen or self.freeze(result, clip, stream_config, budget_bytes, preset)
        longest = max(allowed_variants(result.model.config.num_heads), key=len)
        variant = choose(self.serialize(frozen, clip, preset, longest), clip) if choose else None
        return Encoded(self.serialize(frozen, clip, preset, variant), self.decoded_fit(result, frozen), variant, used,
                       report)

    def decoded_fit(self, result, frozen):
        """The fit result as the caller sees it (the latent grid puts the decoder's model in it)."""
        return result

    def describe_encoded(self, encoded: Encoded) -> list[str]:
        """What `encode` prints of a stream besides its size and fit: parts of one line."""
        return []

    # --- workflow checkpoints -----------------------------------------------------------------
    @abstractmethod
    def build_model(self, config, num_samples: int):
        """A fresh model of this config for a clip of num_samples (the checkpoint's shape)."""

    # --- the stream ---------------------------------------------------------------------------
    @abstractmethod
    def parse_header(self, fields: dict, version: int) -> StreamHeader:
        """The header of a stream of this family from its JSON fields (BitstreamError if bad)."""

    @abstractmethod
    def read_payload(self, view: memoryview, header: StreamHeader, version: int):
        """What the stream's payload holds (BitstreamError if bad)."""

    @abstractmethod
    def synthesize(self, stream: DecodedStream, sample_rate: int | None = None) -> np.ndarray:
        """All heads' outputs (heads, M) at sample_rate (default: the clip's), level restored."""

    @abstractmethod
    def info(self, stream: DecodedStream) -> dict:
        """`sirenpipe info --json`'s fields of this family."""

    @abstractmethod
    def info_lines(self, stream: DecodedStream, info: dict) -> list[str]:
        """`sirenpipe info`'s lines of this family (after the preset, audio and decoder lines)."""

    @abstractmethod
    def setup_columns(self, stream: DecodedStream, history: dict) -> dict:
        """The score table's setup columns of a stream of this family and its fit's history."""

    # --- the rate model -----------------------------------------------------------------------
    @abstractmethod
    def rate_sources(self, scores: pd.DataFrame) -> pd.DataFrame:
        """The score rows the family's rows of a rate model are measured from (its own curve points)."""

    @abstractmethod
    def rate_rows(self, scores: pd.DataFrame) -> list[dict]:
        """The family's rows of a rate model, measured from its rate_sources among a sweep's score rows."""

    def upgrade_rate_row(self, row: dict, schema: int) -> dict:
        """A row of a legacy_rate_schemas file in today's columns."""
        return row

    @abstractmethod
    def invalid_rate_field(self, row: dict) -> str | None:
        """The first field of a row that rate control could not use, or None."""

    @abstractmethod
    def plan(self, budget_bytes: int, num_samples: int, sample_rate: int, rows: list[dict], preset: str | None,
             loss: str | None) -> PlanCandidate | None:
        """The best model and recipe within the budget that the rows predict (None: none fits),
        among `preset`'s models if given, and `loss`'s recipes if given."""

    @abstractmethod
    def smallest_stream(self, num_samples: int, sample_rate: int, preset: str | None) -> int:
        """The fewest bytes a stream of this family (of `preset`) can have, for the error message."""

    @abstractmethod
    def describe_rows(self, rows: list[dict]) -> list[str]:
        """`sirenpipe rate-model show`'s lines of this family's rows."""

    def presets(self) -> list[str]:
        from ..models import PRESETS, model_config

        return [p for p in PRESETS if model_config(p).family == self.name]


def refuse(family: ModelFamily, settings: dict, accepted, what: str) -> None:
    """A ValueError naming the settings a family does not take."""
    unknown = [k for k in settings if k not in accepted]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not {what} settings of the {family.label} family "
                         f"(it takes {', '.join(accepted) or 'none'})")


# --- shared by the families' rate plans ------------------------------------------------------
def budget_bytes(target_kbps: float, num_samples: int, sample_rate: int) -> int:
    """The most bytes a stream of this clip may have at target_kbps."""
    if not (is_number(target_kbps) and target_kbps > 0):
        raise SirenpipeError(f"target bitrate must be a positive number of kbps, got {target_kbps!r}")
    return math.floor(target_kbps * 1000 * num_samples / sample_rate / 8)


def interpolate(xs: list[float], ys: list[float], x: float, extrapolate_below: bool = False) -> float:
    """y at x on a curve of increasing xs, linear between points; held beyond the last, and below
    the first either held or (extrapolate_below) continued along the first segment."""
    if x <= xs[0]:
        if extrapolate_below and len(xs) > 1 and xs[1] > xs[0]:
            return ys[0] + (ys[1] - ys[0]) * (x - xs[0]) / (xs[1] - xs[0])
        return ys[0]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
    return ys[-1]


def is_number(value) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
