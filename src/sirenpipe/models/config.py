"""Model configurations: INRConfig, and the architectures and named presets that build them,
registered by name (as CompressAI's model zoo). No torch: the workflow reads configs at parse time.

An architecture is a function of keyword overrides returning a config of its model family (an
INRConfig here, the SIREN family's; models/latent_config.py registers the latent grid's); a preset
is an architecture plus overrides (the rows of the paper's tables, the latent-grid sizes). Every
config has a class attribute `family`, the name sirenpipe.families registers its family under.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Callable, ClassVar, Iterable, Protocol


@dataclass(frozen=True)
class INRConfig:
    """Architecture of an INR; everything needed to rebuild it from a bitstream."""

    arch: str
    shared: tuple[int, ...]
    head_widths: tuple[int, ...] = ()
    num_heads: int = 1
    pe_frequencies: int = 0
    pe_sigma: float = 2.0
    omega_0: float = 30.0
    omega: float = 30.0

    family = "siren"

    def __post_init__(self):
        object.__setattr__(self, "shared", tuple(int(w) for w in self.shared))
        object.__setattr__(self, "head_widths", tuple(int(w) for w in self.head_widths))
        if not isinstance(self.num_heads, int) or isinstance(self.num_heads, bool):
            raise ValueError(f"num_heads must be an integer, got {self.num_heads!r}")
        if self.num_heads < 1 or self.num_heads > 8:
            raise ValueError(f"num_heads must be 1..8, got {self.num_heads}")
        widths = self.shared + self.head_widths
        if not widths:
            raise ValueError("an INR needs at least one hidden layer")
        if any(w < 1 or w > 8192 for w in widths):
            raise ValueError(f"layer widths must be 1..8192, got {widths}")
        if len(widths) > 32:
            raise ValueError("at most 32 hidden layers")
        for name, (low, high) in {"pe_sigma": (1e-3, 16.0), "omega_0": (1e-3, 1e5), "omega": (1e-3, 1e5)}.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
        if not isinstance(self.pe_frequencies, int) or not 0 <= self.pe_frequencies <= 32:
            raise ValueError(f"pe_frequencies must be 0..32, got {self.pe_frequencies}")

    def input_features(self) -> int:
        """Width of the network input: t itself, or its positional encoding (t, sin and cos per frequency)."""
        return 1 + 2 * self.pe_frequencies if self.pe_frequencies else 1

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape by its name in the INR's state_dict, in its order: each
        layer's weight (out, in) then bias (out,); the trunk first, then each head, its linear
        output layer last. The one statement of the network's geometry (models.inr builds it)."""
        shapes = {}

        def layer(name: str, out: int, inp: int) -> None:
            shapes[f"{name}.weight"] = (out, inp)
            shapes[f"{name}.bias"] = (out,)

        width = self.input_features()
        for i, w in enumerate(self.shared):
            layer(f"trunk.{i}.linear", w, width)
            width = w
        trunk_width = width
        for head in range(self.num_heads):
            width = trunk_width
            for j, w in enumerate(self.head_widths):
                layer(f"heads.{head}.{j}.linear", w, width)
                width = w
            layer(f"heads.{head}.{len(self.head_widths)}", 1, width)
        return shapes

    def weight_shapes(self) -> dict[str, tuple[int, int]]:
        """(out, in) of every linear layer's weight, by state_dict name (parameter_shapes)."""
        return {name: shape for name, shape in self.parameter_shapes().items() if len(shape) == 2}

    def num_parameters(self) -> int:
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shared"] = list(self.shared)
        d["head_widths"] = list(self.head_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "INRConfig":
        return cls(**d)


def input_weight_names(names: Iterable[str]) -> set[str]:
    """Which of an INR's parameter names (any prefix) are weights of the input layer, the one
    that reads t or its positional encoding: the trunk's first layer, or, with nothing shared,
    each head's first layer."""
    names = [n for n in names if n.endswith(".weight")]
    trunk = {n for n in names if re.search(r"(^|\.)trunk\.0\.", n)}
    return trunk or {n for n in names if re.search(r"(^|\.)heads\.\d+\.0\.", n)}


class ModelConfig(Protocol):
    """What every family's model config offers (the SIREN's INRConfig, the latent grid's config, ...)."""

    family: ClassVar[str]  # the model family (sirenpipe.families)
    arch: str
    num_heads: int

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]: ...
    def num_parameters(self) -> int: ...
    def to_dict(self) -> dict: ...


ARCHITECTURES: dict[str, Callable[..., ModelConfig]] = {}
CONFIG_TYPES: dict[str, type] = {}  # architecture -> its config class (config_from_dict)
PRESETS: dict[str, tuple[str, dict]] = {}


def register_architecture(name: str, config_type: type = INRConfig):
    """Register fn(**overrides) -> a config of `config_type` as architecture `name`."""

    def decorator(fn):
        ARCHITECTURES[name] = fn
        CONFIG_TYPES[name] = config_type
        return fn

    return decorator


@register_architecture("siren")
def siren(shared=(256, 256, 256), omega_0=3000.0, omega=30.0) -> INRConfig:
    """Original SIREN for audio: raw t input, omega_0 = 3000 in the first layer."""
    return INRConfig("siren", shared, omega_0=omega_0, omega=omega)


@register_architecture("pe_siren")
def pe_siren(shared=(256, 256, 256), pe_frequencies=16, pe_sigma=2.0, omega_0=30.0, omega=30.0) -> INRConfig:
    return INRConfig("pe_siren", shared, pe_frequencies=pe_frequencies, pe_sigma=pe_sigma, omega_0=omega_0, omega=omega)


@register_architecture("siamese")
def siamese(
    shared=(256, 256), head_widths=(128,), num_heads=2, pe_frequencies=16, pe_sigma=2.0, omega_0=100.0, omega=100.0
) -> INRConfig:
    return INRConfig(
        "siamese",
        shared,
        head_widths=head_widths,
        num_heads=num_heads,
        pe_frequencies=pe_frequencies,
        pe_sigma=pe_sigma,
        omega_0=omega_0,
        omega=omega,
    )


def register_preset(name: str, arch: str, **overrides) -> None:
    PRESETS[name] = (arch, overrides)


# Table 1
register_preset("original-siren", "siren")
register_preset("pe-siren", "pe_siren")
register_preset("optimized-siren", "pe_siren", omega_0=100.0, omega=100.0)
register_preset("siamese-siren", "siamese")
# Table 2: layer widths (shared / siamese per head)
register_preset("siamese-2x128-1x64", "siamese", shared=(128, 128), head_widths=(64,))
register_preset("siamese-2x64-1x32", "siamese", shared=(64, 64), head_widths=(32,))
# Table 3: how many layers are shared
register_preset("siamese-1x256-2x128", "siamese", shared=(256,), head_widths=(128, 128))
register_preset("siamese-0-3x128", "siamese", shared=(), head_widths=(128, 128, 128))
# Aliases that name the paper rows by their widths (3x256 unshared = optimized SIREN;
# 2x256 / 1x128 = siamese-siren).
register_preset("siren-3x256", "pe_siren", omega_0=100.0, omega=100.0)
register_preset("siamese-2x256-1x128", "siamese")


def config_from_dict(d: dict) -> ModelConfig:
    """A config of any family from its to_dict(), by its architecture."""
    if not isinstance(d, dict):
        raise ValueError(f"a model config is a mapping, got {type(d).__name__}")
    if d.get("arch") not in CONFIG_TYPES:
        raise ValueError(f"unknown architecture {d.get('arch')!r}; known: {', '.join(sorted(CONFIG_TYPES))}")
    return CONFIG_TYPES[d["arch"]].from_dict(d)


def model_config(preset: str | None = None, arch: str | None = None, **overrides) -> ModelConfig:
    """The config of a preset (and/or an architecture), of its family, with overrides applied."""
    if preset is not None:
        if preset not in PRESETS:
            raise KeyError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        preset_arch, preset_overrides = PRESETS[preset]
        if arch is not None and arch != preset_arch:
            raise ValueError(f"preset {preset!r} is architecture {preset_arch!r}, not {arch!r}")
        arch, overrides = preset_arch, {**preset_overrides, **overrides}
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](**overrides)
