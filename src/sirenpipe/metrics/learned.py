"""CDPAM (Manocha et al. 2021), optional: ``pip install sirenpipe[cdpam]``. Off by default (30-40 s per
10 s pair on CPU). The bundled checkpoint is loaded here because cdpam 0.0.6's own loader fails on
torch >= 2.6 (weights_only) and its audio loader uses the removed ``np.float``."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from ._registry import Unscorable, register
from ._signal import resample

CDPAM_RATE = 22050
CDPAM_MISSING = "cdpam not installed (pip install sirenpipe[cdpam])"
_CHECKPOINT = Path("CDPAM_trained") / "scratchJNDdefault_best_model.pth"
# Hyper-parameters of that checkpoint, as in cdpam.CDPAM.__init__ (0.0.6).
_FINNET_ARGS = dict(
    encoder_layers=16, encoder_filters=64, ndim=[16, 6], classif_dp=0.05, classif_BN=0, classif_act="no", input_size=512
)


def cdpam_input(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """What cdpam.load_audio produces: 22050 Hz, rounded ×32768, float32, shape [1, N]."""
    return np.round(resample(x, sample_rate, CDPAM_RATE) * 32768.0).astype(np.float32)[None, :]


@functools.lru_cache(maxsize=1)
def _load_model():
    """(model, device): the bundled checkpoint on cuda if available, else cpu; offline."""
    import cdpam
    import torch
    from cdpam.models import FINnet

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = FINnet(dev=device, **_FINNET_ARGS)
    checkpoint = Path(cdpam.__file__).parent / _CHECKPOINT
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=False)["state"])
    return model.to(device).eval(), device


def _embed(model, audio):
    import torch.nn.functional as F

    return F.normalize(model.base_encoder(audio.unsqueeze(1))[1], dim=1)


@register(
    "cdpam", mode=str(CDPAM_RATE), higher_is_better=False, label="CDPAM", decimals=3, default=False
)
def cdpam(ref: np.ndarray, est: np.ndarray, sample_rate: int, kind: str) -> float:
    """CDPAM distance (lower is better, 0 for identical signals), same computation as CDPAM.forward."""
    if importlib.util.find_spec("cdpam") is None:
        raise Unscorable(CDPAM_MISSING)
    import torch

    model, device = _load_model()
    a, b = (torch.from_numpy(cdpam_input(x, sample_rate)).to(device) for x in (ref, est))
    with torch.inference_mode():
        return float(model.model_dist(_embed(model, a), _embed(model, b)).reshape(-1)[0])
