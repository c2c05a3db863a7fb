"""Reads a CTranslate2 `model.bin`: the converted weights faster-whisper ships.

Layout (little-endian, CTranslate2 binary version 6): u32 version; string spec name; u32
revision; u32 variable count; per variable a string name, u8 rank, u32 dims, u8 dtype, u32 byte
count and the raw bytes; then u32 alias count and (alias, target) string pairs. A string is a
u16 length that counts a trailing NUL, then the bytes and the NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.asr_onnx.errors import ModelError

SUPPORTED_VERSIONS = range(5, 7)
# DataType enum order in CTranslate2's include/ctranslate2/types.h.
DTYPES: dict[int, np.dtype[np.generic]] = {
    0: np.dtype(np.float32),
    1: np.dtype(np.int8),
    2: np.dtype(np.int16),
    3: np.dtype(np.int32),
    4: np.dtype(np.float16),
    5: np.dtype(np.uint16),  # bfloat16, widened by _bfloat16_to_float32
}
BFLOAT16 = 5


@dataclass
class Ct2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]

    def get(self, name: str) -> np.ndarray:
        try:
            return self.variables[name]
        except KeyError:
            raise ModelError(f"model.bin has no variable {name!r}") from None

    def scalar(self, name: str) -> int:
        return int(self.get(name).reshape(-1)[0])


class _Cursor:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data = data
        self.offset = 0
        self.path = path

    def take(self, size: int) -> memoryview:
        end = self.offset + size
        if end > len(self.data):
            raise ModelError(f"{self.path} is truncated at byte {self.offset}")
        view = self.data[self.offset : end]
        self.offset = end
        return view

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return int(value)

    def string(self) -> str:
        size = self.unpack("H")
        raw = bytes(self.take(size))
        if not raw.endswith(b"\0"):
            raise ModelError(f"{self.path}: malformed name at byte {self.offset}")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ModelError(f"{self.path}: malformed name at byte {self.offset}") from None


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _dequantize(variables: dict[str, np.ndarray]) -> None:
    """int8 weights come with a per-row `weight_scale`: value = int8 / scale."""
    for name in [n for n in variables if n.endswith("/weight_scale")]:
        scale = variables.pop(name).astype(np.float32)
        weight_name = name.removesuffix("_scale")
        weight = variables[weight_name]
        if weight.dtype in (np.int8, np.int16):
            variables[weight_name] = weight.astype(np.float32) / scale.reshape(-1, 1)


def read_ct2_model(path: Path) -> Ct2Model:
    """Loads every variable of `path` as a read-only numpy view of the file's bytes."""
    data = path.read_bytes()
    if len(data) < 4:
        raise ModelError(f"{path} is not a CTranslate2 model (too short)")
    return _parse(memoryview(data), path)


def _parse(data: memoryview, path: Path) -> Ct2Model:
    cursor = _Cursor(data, path)
    version = cursor.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"{path}: CTranslate2 binary version {version} is not supported")
    spec = cursor.string()
    revision = cursor.unpack("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(cursor.unpack("I")):
        name = cursor.string()
        shape = [cursor.unpack("I") for _ in range(cursor.unpack("B"))]
        type_id = cursor.unpack("B")
        if type_id not in DTYPES:
            raise ModelError(f"{path}: variable {name!r} has unknown dtype {type_id}")
        dtype = DTYPES[type_id]
        size = cursor.unpack("I")
        if size != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ModelError(f"{path}: variable {name!r} has {size} bytes for shape {shape}")
        array = np.frombuffer(cursor.take(size), dtype=dtype).reshape(shape)
        variables[name] = _bfloat16_to_float32(array) if type_id == BFLOAT16 else array
    aliases = {}
    for _ in range(cursor.unpack("I")):
        alias, target = cursor.string(), cursor.string()
        aliases[alias] = target
    _dequantize(variables)
    return Ct2Model(spec, revision, variables, aliases)
