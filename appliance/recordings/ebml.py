"""EBML, the binary format under Matroska and WebM (RFC 8794): element headers read from a
seekable file, and elements encoded to bytes.

An element is an ID, a size, then `size` bytes of data. IDs and sizes are variable-length
integers: the count of leading zero bits in the first byte, plus one, is the length in bytes.
An ID keeps its length marker (the Segment's ID is written 0x18538067); a size drops it, and a
size whose value bits are all ones is "unknown" (a live muxer's Segment: it ends where the
stream ends).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from appliance.core.errors import ApplianceError

MAX_ID_BYTES = 4
MAX_SIZE_BYTES = 8
HEADER_PEEK = MAX_ID_BYTES + MAX_SIZE_BYTES


class EbmlError(ApplianceError):
    """The bytes are not well-formed EBML: the file is damaged, or not Matroska at all."""


class Cut(EbmlError):
    """An element runs past the end of the data: the file was cut short."""


@dataclass(frozen=True)
class Element:
    """Where one element lies in its file. `size` is None for an unknown size."""

    id: int
    start: int  # offset of the ID
    data_start: int  # offset of the first data byte
    size: int | None

    @property
    def header_bytes(self) -> int:
        return self.data_start - self.start

    @property
    def end(self) -> int:
        """Offset just past the data; only for an element of known size."""
        if self.size is None:
            raise EbmlError(f"element 0x{self.id:X} at offset {self.start} has an unknown size")
        return self.data_start + self.size


def _vint_length(first: int, offset: int, what: str) -> int:
    if first == 0:
        raise EbmlError(f"invalid EBML {what} at offset {offset}: no length marker")
    return 9 - first.bit_length()


def parse_size(data: bytes, offset: int) -> tuple[int | None, int]:
    """(the value, None when unknown; its length in bytes) of the size that starts `data`.

    Raises Cut when `data` ends inside it, EbmlError when it is not a size."""
    if not data:
        raise Cut(f"the data ends at offset {offset}, where a size was expected")
    length = _vint_length(data[0], offset, "size")
    if len(data) < length:
        raise Cut(f"the data ends inside the size at offset {offset}")
    bits = 7 * length
    value = int.from_bytes(data[:length], "big") & ((1 << bits) - 1)
    return (None if value == (1 << bits) - 1 else value), length


def parse_header(data: bytes, offset: int) -> Element:
    """The element whose header starts `data` (read from `offset` in its file).

    Raises Cut when `data` ends inside the header, EbmlError when it is not a header.
    """
    if not data:
        raise Cut(f"the data ends at offset {offset}, where an element was expected")
    id_length = _vint_length(data[0], offset, "ID")
    if id_length > MAX_ID_BYTES:
        raise EbmlError(f"invalid EBML ID at offset {offset}: longer than {MAX_ID_BYTES} bytes")
    if len(data) <= id_length:
        raise Cut(f"the data ends inside the element header at offset {offset}")
    element_id = int.from_bytes(data[:id_length], "big")
    size, size_length = parse_size(data[id_length:], offset + id_length)
    return Element(element_id, offset, offset + id_length + size_length, size)


def read_header(file: BinaryIO, offset: int) -> Element:
    """The element whose header starts at `offset` of `file` (see parse_header)."""
    file.seek(offset)
    return parse_header(file.read(HEADER_PEEK), offset)


def read_data(file: BinaryIO, element: Element, limit: int) -> bytes:
    """The data of a small element (a number, a string, an Info), at most `limit` bytes."""
    size = element.size
    if size is None or size > limit:
        raise EbmlError(
            f"element 0x{element.id:X} at offset {element.start} is larger than the "
            f"{limit} bytes such an element may have"
        )
    file.seek(element.data_start)
    data = file.read(size)
    if len(data) < size:
        raise Cut(f"the data ends inside element 0x{element.id:X} at offset {element.start}")
    return data


def parse_children(data: bytes, base: int = 0) -> list[tuple[Element, bytes]]:
    """The elements (each with its data) that make up `data`, the data of a master element
    that starts at offset `base` of its file."""
    found = []
    position = 0
    while position < len(data):
        child = parse_header(data[position : position + HEADER_PEEK], base + position)
        start = position + child.header_bytes
        if child.size is None or start + child.size > len(data):
            raise EbmlError(f"element 0x{child.id:X} at offset {child.start} overruns its parent")
        found.append((child, data[start : start + child.size]))
        position = start + child.size
    return found


def decode_uint(data: bytes) -> int:
    if len(data) > 8:
        raise EbmlError(f"an unsigned integer of {len(data)} bytes is longer than 8")
    return int.from_bytes(data, "big")


def decode_float(data: bytes) -> float:
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    if not data:
        return 0.0
    raise EbmlError(f"a float of {len(data)} bytes is neither 4 nor 8 bytes long")


# --- writing ---------------------------------------------------------------------------------


def encode_id(element_id: int) -> bytes:
    """An ID as written: its bytes, length marker included."""
    return element_id.to_bytes(max(1, (element_id.bit_length() + 7) // 8), "big")


def encode_size(size: int, width: int | None = None) -> bytes:
    """A size in `width` bytes (1 to 8), or in as few as it takes."""
    if width is None:
        width = 1
        while size >= (1 << (7 * width)) - 1:  # all ones would read as "unknown"
            width += 1
    if not 1 <= width <= MAX_SIZE_BYTES or size >= (1 << (7 * width)) - 1:
        raise ValueError(f"size {size} does not fit in {width} bytes")
    return ((1 << (7 * width)) | size).to_bytes(width, "big")


def element_header(element_id: int, size: int, width: int | None = None) -> bytes:
    return encode_id(element_id) + encode_size(size, width)


def element(element_id: int, data: bytes) -> bytes:
    return element_header(element_id, len(data)) + data


def uint_element(element_id: int, value: int, width: int | None = None) -> bytes:
    """An unsigned integer in `width` bytes (so its length is known before its value)."""
    if width is None:
        width = max(1, (value.bit_length() + 7) // 8)
    return element(element_id, value.to_bytes(width, "big"))


def float_element(element_id: int, value: float) -> bytes:
    return element(element_id, struct.pack(">d", value))
