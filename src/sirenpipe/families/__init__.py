"""The model families, found through one registry: by name, by model config, by preset, and by
the stream that holds one. The interface every family implements is :mod:`.base`'s.

To add a family: its config (registered with models.config.register_architecture, and imported by
models/__init__.py), its fit, its payload, and a ModelFamily subclass, registered below.
"""

from __future__ import annotations

from ..errors import BitstreamError
from .base import Encoded, ModelFamily, PlanCandidate, budget_bytes

FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> ModelFamily:
    """The family of this name; an unknown name is a one-line ValueError."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def family_of(config) -> ModelFamily:
    """The family of a model config (its class's `family`)."""
    return get_family(config.family)


def family_of_preset(preset: str) -> ModelFamily:
    from ..models import model_config

    return family_of(model_config(preset))


def readable_versions() -> tuple[int, ...]:
    return tuple(sorted({v for f in FAMILIES.values() for v in f.versions}))


def family_of_stream(version: int, fields: dict) -> ModelFamily:
    """The family a stream holds: the one its header names, or for headers that name none, the
    one whose legacy versions include the stream's (versions 1-3: the SIREN; version 4 before
    the header named its family: the latent grid). BitstreamError if none reads it."""
    name = fields.get("family")
    if name is None:
        found = [f for f in FAMILIES.values() if version in f.legacy_versions]
    else:
        found = [f for f in FAMILIES.values() if f.name == name and version in f.versions]
    if not found:
        raise BitstreamError(f"corrupt .sirn header: no model family {name!r} in format version {version}")
    return found[0]


# The families, in the order they are listed in.
from .latent_grid import LatentGridFamily  # noqa: E402
from .siren import SirenFamily  # noqa: E402

for _family in (SirenFamily(), LatentGridFamily()):
    register_family(_family)

__all__ = ["FAMILIES", "Encoded", "ModelFamily", "PlanCandidate", "budget_bytes", "family_of", "family_of_preset",
           "family_of_stream", "get_family", "readable_versions", "register_family"]
