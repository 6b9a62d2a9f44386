"""Post-training quantization: symmetric integer weights, fp32 biases.

The reference is int8 per-tensor (PyTorch's dynamic quantization of Linear layers); bit widths
2..8 and per-output-channel scales are options. Decoding dequantizes to float.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class QuantConfig:
    bits: int = 8
    per_channel: bool = False

    def __post_init__(self):
        if not (isinstance(self.bits, int) and not isinstance(self.bits, bool) and 2 <= self.bits <= 8):
            raise ValueError(f"bits must be 2..8, got {self.bits}")

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class QuantizedTensor:
    values: np.ndarray  # int8 in [-qmax, qmax], the tensor's shape
    scales: np.ndarray  # float32, shape (1,) per tensor or (rows,) per channel

    def dequantize(self) -> np.ndarray:
        scales = self.scales.reshape(-1, *([1] * (self.values.ndim - 1)))
        return self.values.astype(np.float32) * scales


def is_quantized(name: str, ndim: int) -> bool:
    """Weight matrices are quantized; biases (1-D) stay fp32."""
    return name.endswith("weight") and ndim == 2


def quantize_tensor(w: np.ndarray, config: QuantConfig) -> QuantizedTensor:
    w = np.asarray(w, dtype=np.float32)
    peak = np.abs(w).max(axis=1) if config.per_channel else np.abs(w).max(keepdims=True).reshape(1)
    scales = np.where(peak > 0, peak / config.qmax, 1.0).astype(np.float32)
    q = np.rint(w / scales.reshape(-1, 1) if config.per_channel else w / scales[0])
    return QuantizedTensor(np.clip(q, -config.qmax, config.qmax).astype(np.int8), scales)


def quantize_state(state: dict[str, torch.Tensor], config: QuantConfig) -> dict[str, QuantizedTensor | np.ndarray]:
    """Quantize a model's state_dict: weights -> QuantizedTensor, biases -> float32 arrays."""
    out = {}
    for name, tensor in state.items():
        array = tensor.detach().cpu().numpy()
        out[name] = quantize_tensor(array, config) if is_quantized(name, array.ndim) else array.astype(np.float32)
    return out


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
