"""Quantization: symmetric integer weights with max-based scales; biases and scales as floats.

The reference is int8 per-tensor (PyTorch's dynamic quantization of Linear layers); bit widths
2..8, per-output-channel scales, fp16 biases and scales, entropy coding of the integers (format
versions 2 and 3, :mod:`.entropy`) and a separate bit width for the input layer are options.

`quantize_weight` is the one quantizer: the bitstream's encoder calls it, and so does the fit's
fake quantizer (`fake_quantize_state`, quantization-aware fitting), so a model fitted through
the quantizer decodes to exactly the weights it was trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

CODINGS = ("entropy", "fixed")  # how a weight tensor's integers are stored
# `sirenpipe encode` quantizes the input layer at no fewer bits than this unless told otherwise
# (--first-layer-bits); benchmarks.rate_tools measures what it buys at 4 and 5 bits.
ENCODER_FIRST_LAYER_BITS = 6
FLOAT_BITS = (32, 16)  # how biases and scales are stored


@dataclass(frozen=True)
class QuantConfig:
    bits: int = 8
    per_channel: bool = False
    # "entropy": each tensor's integers range-coded with the smallest of a histogram model, a
    # quantized Laplace model and fixed-length codes (format versions 2 and 3); "fixed": fixed-length codes.
    coding: str = "entropy"
    float_bits: int = 32  # biases and scales: fp32, or fp16 (rounded in the fit too when quantization-aware)
    # Bits of the input layer's weights (models.input_weight_names); None: `bits`. That layer sets
    # the frequencies of the sine basis every later layer builds on, and a coarse grid there is
    # the error quantization-aware fitting cannot train away; it holds few of the weights.
    first_layer_bits: int | None = None

    def __post_init__(self):
        if not (isinstance(self.bits, int) and not isinstance(self.bits, bool) and 2 <= self.bits <= 8):
            raise ValueError(f"bits must be 2..8, got {self.bits}")
        if not isinstance(self.per_channel, bool):
            raise ValueError(f"per_channel must be true or false, got {self.per_channel!r}")
        if self.coding not in CODINGS:
            raise ValueError(f"coding must be one of {', '.join(CODINGS)}, got {self.coding!r}")
        if self.float_bits not in FLOAT_BITS or type(self.float_bits) is not int:
            raise ValueError(f"float_bits must be 32 or 16, got {self.float_bits!r}")
        first = self.first_layer_bits
        if first is not None and not (isinstance(first, int) and not isinstance(first, bool) and 2 <= first <= 8):
            raise ValueError(f"first_layer_bits must be 2..8 or null, got {first!r}")
        if first == self.bits:  # one spelling of "the input layer at bits"
            object.__setattr__(self, "first_layer_bits", None)

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    def for_layer(self, input_layer: bool) -> "QuantConfig":
        """The settings one weight matrix is quantized with: the input layer's own bit width."""
        if input_layer and self.first_layer_bits is not None:
            return replace(self, bits=self.first_layer_bits, first_layer_bits=None)
        return self

    @classmethod
    def for_encoder(cls, bits: int = 8, per_channel: bool = False, coding: str = "entropy", float_bits: int = 32,
                    first_layer_bits: int | None = None) -> "QuantConfig":
        """The settings `sirenpipe encode` uses: the input layer at ENCODER_FIRST_LAYER_BITS or
        more unless first_layer_bits is given."""
        if first_layer_bits is None and bits < ENCODER_FIRST_LAYER_BITS:
            first_layer_bits = ENCODER_FIRST_LAYER_BITS
        return cls(bits, per_channel, coding, float_bits, first_layer_bits)

    def to_dict(self) -> dict:
        """The fields, first_layer_bits only when set (so streams and workflow parameters without
        it are what they were before it existed)."""
        d = asdict(self)
        if d["first_layer_bits"] is None:
            del d["first_layer_bits"]
        return d

    @property
    def label(self) -> str:
        """e.g. "4-bit" or "4-bit (input layer 8-bit)"."""
        first = self.for_layer(True).bits
        return f"{self.bits}-bit" + (f" (input layer {first}-bit)" if first != self.bits else "")


@dataclass
class QuantizedTensor:
    values: np.ndarray  # int8 in [-qmax, qmax], the tensor's shape
    scales: np.ndarray  # float32 (fp16-representable when float_bits is 16), shape (1,) or (rows,)

    def dequantize(self) -> np.ndarray:
        scales = self.scales.reshape(-1, *([1] * (self.values.ndim - 1)))
        return self.values.astype(np.float32) * scales


def is_quantized(name: str, ndim: int) -> bool:
    """Weight matrices are quantized; biases (1-D) stay floats."""
    return name.endswith("weight") and ndim == 2


def round_floats(x: torch.Tensor, float_bits: int) -> torch.Tensor:
    """x as stored: float32, or rounded to the nearest fp16 (overflow to inf is the caller's check)."""
    return x.half().float() if float_bits == 16 else x


def quantize_weight(w: torch.Tensor, config: QuantConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(integer codes as float, scales) of a weight matrix (rows, cols); works under vmap.

    scale = peak / qmax (per tensor, or per row), stored at float_bits; codes = clip(rint(w /
    scale)); dequantized weight = codes * scale. A zero (or fp16-underflowing) scale becomes 1.
    """
    import torch

    peak = w.detach().abs().amax(dim=-1, keepdim=True) if config.per_channel else w.detach().abs().amax().reshape(1, 1)
    scale = round_floats(peak / config.qmax, config.float_bits)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = torch.clamp(torch.round(w.detach() / scale), -config.qmax, config.qmax) + 0.0  # no -0.0
    return codes, scale


def fake_quantize_state(params: dict, config: QuantConfig) -> dict:
    """What the decoder will see, with straight-through gradients: each weight matrix replaced by
    codes * scale and each bias by its stored float, valued exactly as the bitstream decodes them
    (x - x.detach() is exactly 0, so the value is bit-identical) while the gradient passes to x."""
    from ..models.config import input_weight_names

    out = {}
    input_layer = input_weight_names(params) if config.first_layer_bits is not None else ()
    for name, x in params.items():
        if name.endswith("weight") and x.dim() >= 2:  # under vmap a clip axis may lead
            codes, scale = quantize_weight(x, config.for_layer(name in input_layer))
            stored = codes * scale
        elif config.float_bits == 16:
            stored = round_floats(x.detach(), 16)
        else:
            out[name] = x
            continue
        out[name] = (x - x.detach()) + stored
    return out


def quantize_state(state: dict[str, torch.Tensor], config: QuantConfig) -> dict[str, QuantizedTensor | np.ndarray]:
    """Quantize a model's state_dict: weights -> QuantizedTensor, biases -> float32 arrays
    (fp16-rounded when float_bits is 16)."""
    import torch

    from ..models.config import input_weight_names

    out = {}
    input_layer = input_weight_names(state) if config.first_layer_bits is not None else ()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().float()
        if is_quantized(name, tensor.dim()):
            codes, scale = quantize_weight(tensor, config.for_layer(name in input_layer))
            out[name] = QuantizedTensor(codes.to(torch.int8).numpy(), scale.reshape(-1).numpy().astype(np.float32))
        else:
            out[name] = round_floats(tensor, config.float_bits).numpy().astype(np.float32)
        check_storable(name, out[name], config)
    return out


def check_storable(name: str, value, config: QuantConfig) -> None:
    floats = value.scales if isinstance(value, QuantizedTensor) else value
    if not np.all(np.isfinite(floats)):
        raise ValueError(f"{name}: values out of range for {config.float_bits}-bit floats")


def dequantize_state(qstate: dict[str, QuantizedTensor | np.ndarray]) -> dict[str, torch.Tensor]:
    import torch

    return {
        name: torch.from_numpy(v.dequantize() if isinstance(v, QuantizedTensor) else np.array(v, dtype=np.float32))
        for name, v in qstate.items()
    }


def pack_ints(values: np.ndarray, bits: int) -> bytes:
    """Pack signed ints in [-(2^(b-1)-1), 2^(b-1)-1] into b bits each (offset binary)."""
    unsigned = (values.astype(np.int16).ravel() + (2 ** (bits - 1) - 1)).astype(np.uint8)
    if bits == 8:
        return unsigned.tobytes()
    bit_planes = (unsigned[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint8)) & 1
    return np.packbits(bit_planes.ravel()).tobytes()


def unpack_ints(data: bytes, count: int, bits: int) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8)
    if bits == 8:
        unsigned = raw[:count]
    else:
        planes = np.unpackbits(raw)[: count * bits].reshape(count, bits)
        unsigned = (planes << np.arange(bits - 1, -1, -1, dtype=np.uint8)).sum(axis=1)
    qmax = 2 ** (bits - 1) - 1
    return np.clip(unsigned.astype(np.int16) - qmax, -qmax, qmax).astype(np.int8)


def packed_size(count: int, bits: int) -> int:
    """Bytes of `count` integers packed at `bits` each (what pack_ints writes)."""
    return (count * bits + 7) // 8
