"""Making a live-muxed Matroska or WebM file seekable, in two passes, without decoding it.

The SFU muxes each participant's track for a stream that cannot seek back, so the file has a
Segment of unknown size, no Duration and no Cues: a browser shows `Infinity` and seeks by
reading from the start.

1. `scan` walks the top-level elements, reads each cluster's Timecode and its blocks' headers,
   and notes the first keyframe of the cue track (the video track; the audio track of an
   audio-only file) in every cluster, and the end of the last block.
2. `render` writes the EBML header, a Segment of known size with a SeekHead, the Info with a
   Duration, the Tracks, the clusters' bytes as they were, and the Cues at the end.

Every block is copied byte for byte: nothing is decoded or re-encoded. A source cut short (a
recording whose SFU died) keeps the blocks that were written whole. Both passes read a file
object, so the caller decides where the bytes come from (recordings/rendition.py reads a
sealed blob a window at a time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from appliance.recordings.ebml import (
    Cut,
    EbmlError,
    Element,
    decode_float,
    decode_uint,
    element,
    element_header,
    encode_id,
    float_element,
    parse_children,
    parse_size,
    read_data,
    read_header,
    uint_element,
)

COPY_BLOCK = 1024 * 1024  # clusters are copied this much at a time

# Matroska element IDs (https://www.matroska.org/technical/elements.html).
EBML_HEADER = 0x1A45DFA3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
SEEK = 0x4DBB
SEEK_ID = 0x53AB
SEEK_POSITION = 0x53AC
INFO = 0x1549A966
TIMESTAMP_SCALE = 0x2AD7B1
DURATION = 0x4489
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_TYPE = 0x83
DEFAULT_DURATION = 0x23E383
CLUSTER = 0x1F43B675
TIMESTAMP = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
REFERENCE_BLOCK = 0xFB
BLOCK_DURATION = 0x9B
CUES = 0x1C53BB6B
CUE_POINT = 0xBB
CUE_TIME = 0xB3
CUE_TRACK_POSITIONS = 0xB7
CUE_TRACK = 0xF7
CUE_CLUSTER_POSITION = 0xF1
TAGS = 0x1254C367
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC_32 = 0xBF

VIDEO_TRACK, AUDIO_TRACK = 1, 2
DEFAULT_TIMESTAMP_SCALE = 1_000_000  # nanoseconds per tick: milliseconds
# Elements that end a cluster of unknown size: anything that may follow it in the Segment.
TOP_LEVEL = {SEEK_HEAD, INFO, TRACKS, CUES, TAGS, CHAPTERS, ATTACHMENTS, CLUSTER, EBML_HEADER}
TOP_LEVEL |= {SEGMENT}
CLUSTER_CHILDREN = {TIMESTAMP, SIMPLE_BLOCK, BLOCK_GROUP, VOID, CRC_32}
CLUSTER_CHILDREN |= {0xA7, 0xAB, 0x5854, 0xAF}  # Position, PrevSize, SilentTracks, EncryptedBlock
# Top-level elements copied into the rendition, between the Tracks and the first cluster.
COPIED = {TAGS, CHAPTERS, ATTACHMENTS}
# Top-level elements the rendition replaces with its own (or has no use for).
DROPPED = {SEEK_HEAD, CUES, VOID, CRC_32}
# Bounds on what is read into memory: these elements are small in any real recording.
MAX_HEADER_BYTES = 4096
MAX_INFO_BYTES = 64 * 1024
MAX_TRACKS_BYTES = 1024 * 1024
BLOCK_HEADER_PEEK = 8 + 2 + 1  # track number, relative timestamp, flags
CLUSTER_SIZE_BYTES = 8  # a rewritten cluster's size field
POSITION_BYTES = 8  # SeekPosition and CueClusterPosition, fixed so sizes are known first


@dataclass(frozen=True)
class Span:
    """Bytes `start` to `end` of the source, copied as they are."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Track:
    number: int
    type: int
    default_duration: int  # nanoseconds per frame; 0 when the track declares none


@dataclass(frozen=True)
class ClusterCopy:
    """One cluster as it goes into the rendition: `header` (the source's own, or a known size
    in place of an unknown one or of a cluster cut short), then the source's `body`."""

    header: bytes
    body: Span
    cue_time: int | None  # ticks of the cue track's first keyframe in it; None: none there

    @property
    def length(self) -> int:
        return len(self.header) + self.body.length


@dataclass
class Layout:
    """What `scan` found in a source, and all `render` needs to write its rendition."""

    ebml_header: Span
    info_children: bytes  # the Info's children, less any Duration, CRC-32 or Void
    tracks: Span
    cue_track: int
    copied: list[tuple[int, Span]] = field(default_factory=list)  # (ID, where), in order
    clusters: list[ClusterCopy] = field(default_factory=list)
    duration: int = 0  # ticks: where the last block ends (see _Scan.block)
    cut: bool = False  # the source ends inside an element (a recording cut short)
    seekable: bool = False  # the source has Cues, a Duration and a Segment of known size


@dataclass
class _Scan:
    """What a scan needs of each block: the tracks and their clock, and what it found so far."""

    tracks: dict[int, Track]
    cue_track: int
    timestamp_scale: int
    duration: int = 0
    last_time: dict[int, int] = field(default_factory=dict)  # by track number

    def block(self, track: Track, time: int, length: int) -> None:
        """Counts a block in the duration. One that does not say how long it lasts (nor does
        its track) is taken to last as long as the gap before it: frames come at a steady
        rate, and Opus declares no DefaultDuration."""
        previous = self.last_time.get(track.number)
        self.last_time[track.number] = time
        if not length and track.default_duration:
            length = round(track.default_duration / self.timestamp_scale)
        if not length and previous is not None:
            length = max(0, time - previous)
        self.duration = max(self.duration, time + length)


@dataclass
class _Segment:
    """The Segment's elements other than clusters, as a scan meets them."""

    info: tuple[bytes, int, bool] | None = None  # see _info
    tracks: tuple[Span, dict[int, Track]] | None = None
    copied: list[tuple[int, Span]] = field(default_factory=list)
    has_cues: bool = False

    def add(self, file: BinaryIO, child: Element) -> None:
        if child.id == INFO:
            if self.info is not None:
                raise EbmlError(f"the file has a second Info at offset {child.start}")
            self.info = _info(read_data(file, child, MAX_INFO_BYTES), child)
        elif child.id == TRACKS:
            if self.tracks is not None:
                raise EbmlError(f"the file has a second Tracks at offset {child.start}")
            tracks = _tracks(read_data(file, child, MAX_TRACKS_BYTES), child)
            self.tracks = Span(child.start, child.end), tracks
        elif child.id in COPIED:
            self.copied.append((child.id, Span(child.start, child.end)))
        elif child.id == CUES:
            self.has_cues = True
        elif child.id not in DROPPED:
            raise EbmlError(f"unexpected element 0x{child.id:X} in the Segment at {child.start}")

    def before_clusters(self, cluster: Element) -> _Scan:
        if self.info is None or self.tracks is None:
            raise EbmlError(f"the cluster at offset {cluster.start} comes before Info and Tracks")
        tracks = self.tracks[1]
        return _Scan(tracks, _cue_track(tracks), self.info[1])


# --- pass 1: scan ----------------------------------------------------------------------------


def scan(file: BinaryIO) -> Layout:
    """The layout of a Matroska or WebM file read through `file` (seekable, read-only).

    Raises EbmlError when the file is not Matroska, is damaged, or was cut before its first
    complete block. A file cut later scans as the blocks written whole (`Layout.cut`).
    """
    file_end = file.seek(0, os.SEEK_END)
    header, segment = _preamble(file)
    limit = file_end if segment.size is None else min(segment.end, file_end)
    cut = segment.size is not None and segment.end > file_end
    found = _Segment()
    state: _Scan | None = None
    clusters: list[ClusterCopy] = []
    position = segment.data_start
    while position < limit:
        try:
            child = read_header(file, position)
        except Cut:
            cut = True
            break
        if child.id == CLUSTER:
            state = state or found.before_clusters(child)
            cluster, position, cluster_cut = _scan_cluster(file, child, limit, state)
            if cluster is not None:
                clusters.append(cluster)
            if cluster_cut:
                cut = True
                break
            continue
        if child.size is None:
            raise EbmlError(f"element 0x{child.id:X} at offset {child.start} has an unknown size")
        if child.end > limit:
            cut = True
            break
        found.add(file, child)
        position = child.end
    if state is None or found.info is None or found.tracks is None or not clusters:
        raise Cut("the file has no complete block to play: it was cut before its first one")
    info_children, _, has_duration = found.info
    return Layout(
        ebml_header=Span(header.start, header.end),
        info_children=info_children,
        tracks=found.tracks[0],
        cue_track=state.cue_track,
        copied=found.copied,
        clusters=clusters,
        duration=state.duration,
        cut=cut,
        seekable=found.has_cues and has_duration and segment.size is not None and not cut,
    )


def _preamble(file: BinaryIO) -> tuple[Element, Element]:
    """(the EBML header of a Matroska or WebM file, the Segment's header)."""
    try:
        header = read_header(file, 0)
        if header.id != EBML_HEADER:
            raise EbmlError("this is not a Matroska or WebM file: it has no EBML header")
        _check_doc_type(read_data(file, header, MAX_HEADER_BYTES), header)
        segment = read_header(file, header.end)
    except Cut as exc:
        raise Cut(f"the file is cut before its first cluster ({exc})") from None
    if segment.id != SEGMENT:
        raise EbmlError(f"the EBML header is followed by element 0x{segment.id:X}, not a Segment")
    return header, segment


def _check_doc_type(data: bytes, header: Element) -> None:
    for child, value in parse_children(data, header.data_start):
        if child.id == DOC_TYPE:
            doc_type = value.rstrip(b"\x00").decode("ascii", "replace")
            if doc_type not in ("webm", "matroska"):
                raise EbmlError(f"the file is {doc_type!r}, not Matroska or WebM")


def _info(data: bytes, info: Element) -> tuple[bytes, int, bool]:
    """(the children kept, the timestamp scale, whether there was a Duration)."""
    kept = []
    scale = DEFAULT_TIMESTAMP_SCALE
    has_duration = False
    for child, value in parse_children(data, info.data_start):
        if child.id == TIMESTAMP_SCALE:
            scale = decode_uint(value)
        if child.id == DURATION:
            has_duration = decode_float(value) > 0
        if child.id in (DURATION, CRC_32, VOID):
            continue  # the Info gets a new Duration, which a CRC-32 would no longer cover
        start = child.start - info.data_start
        kept.append(data[start : start + child.header_bytes + len(value)])
    if scale <= 0:
        raise EbmlError("the Info's timestamp scale is zero")
    return b"".join(kept), scale, has_duration


def _tracks(data: bytes, tracks: Element) -> dict[int, Track]:
    found: dict[int, Track] = {}
    for entry, value in parse_children(data, tracks.data_start):
        if entry.id != TRACK_ENTRY:
            continue
        fields = {child.id: body for child, body in parse_children(value, entry.data_start)}
        if TRACK_NUMBER not in fields or TRACK_TYPE not in fields:
            raise EbmlError(f"the track entry at offset {entry.start} has no number or type")
        number = decode_uint(fields[TRACK_NUMBER])
        default = decode_uint(fields.get(DEFAULT_DURATION, b""))
        found[number] = Track(number, decode_uint(fields[TRACK_TYPE]), default)
    if not found:
        raise EbmlError("the file declares no tracks")
    return found


def _cue_track(tracks: dict[int, Track]) -> int:
    """Cues index the video track, as players seek to its keyframes; else the audio track."""
    for kind in (VIDEO_TRACK, AUDIO_TRACK):
        numbers = sorted(n for n, t in tracks.items() if t.type == kind)
        if numbers:
            return numbers[0]
    return min(tracks)


def _scan_cluster(
    file: BinaryIO, cluster: Element, limit: int, state: _Scan
) -> tuple[ClusterCopy | None, int, bool]:
    """(the cluster's copy, None when it has no complete block; where the next element
    starts; whether the file was cut inside it)."""
    end = limit if cluster.size is None else min(cluster.end, limit)
    cut = cluster.size is not None and cluster.end > limit
    body_start = cluster.data_start
    timestamp: int | None = None
    cue_time: int | None = None
    blocks = 0
    kept_end = position = cluster.data_start
    while position < end:
        try:
            child = read_header(file, position)
        except Cut:
            cut = True
            break
        if cluster.size is None and child.id in TOP_LEVEL:
            break  # a cluster of unknown size ends where the next top-level element starts
        if child.id not in CLUSTER_CHILDREN:
            raise EbmlError(f"unexpected element 0x{child.id:X} in the cluster at {cluster.start}")
        if child.size is None:
            raise EbmlError(f"element 0x{child.id:X} at offset {child.start} has an unknown size")
        if child.end > end:
            if cluster.size is not None and cluster.end <= limit:
                raise EbmlError(f"element 0x{child.id:X} at {child.start} overruns its cluster")
            cut = True
            break
        if child.id == CRC_32 and position == cluster.data_start:
            body_start = child.end  # kept only with the cluster's own header: see below
        elif child.id == TIMESTAMP:
            timestamp = decode_uint(read_data(file, child, 8))
        elif child.id in (SIMPLE_BLOCK, BLOCK_GROUP):
            if timestamp is None:
                raise EbmlError(
                    f"the cluster at offset {cluster.start} has a block before its time"
                )
            track, time, keyframe, length = _block(file, child)
            time += timestamp
            blocks += 1
            known = state.tracks.get(track)
            if known is None:
                raise EbmlError(f"the block at offset {child.start} is on undeclared track {track}")
            state.block(known, time, length)
            if cue_time is None and keyframe and track == state.cue_track and time >= 0:
                cue_time = time
        position = kept_end = child.end
    next_element = position if cluster.size is None or cut else cluster.end
    if blocks == 0:
        return None, next_element, cut
    if cluster.size is not None and not cut:
        file.seek(cluster.start)
        header, body = file.read(cluster.header_bytes), Span(cluster.data_start, cluster.end)
    else:
        # The size was unknown, or the cluster was cut short: it gets the size of what it
        # kept. A CRC-32 covered the whole cluster, so it goes.
        header = element_header(CLUSTER, kept_end - body_start, CLUSTER_SIZE_BYTES)
        body = Span(body_start, kept_end)
    return ClusterCopy(header, body, cue_time), next_element, cut


def _block(file: BinaryIO, child: Element) -> tuple[int, int, bool, int]:
    """(track number, time relative to its cluster, keyframe, duration in ticks or 0) of a
    SimpleBlock or a BlockGroup."""
    if child.id == SIMPLE_BLOCK:
        track, time, flags = _block_header(file, child)
        return track, time, bool(flags & 0x80), 0
    block: Element | None = None
    keyframe = True  # a Block without a ReferenceBlock is a keyframe
    duration = 0
    position = child.data_start
    while position < child.end:
        part = read_header(file, position)
        if part.size is None or part.end > child.end:
            raise EbmlError(f"element 0x{part.id:X} at {part.start} overruns its block group")
        if part.id == BLOCK:
            block = part
        elif part.id == REFERENCE_BLOCK:
            keyframe = False
        elif part.id == BLOCK_DURATION:
            duration = decode_uint(read_data(file, part, 8))
        position = part.end
    if block is None:
        raise EbmlError(f"the block group at offset {child.start} has no block")
    track, time, _ = _block_header(file, block)
    return track, time, keyframe, duration


def _block_header(file: BinaryIO, block: Element) -> tuple[int, int, int]:
    """(track number, signed relative time, flags) from the start of a block's data."""
    file.seek(block.data_start)
    data = file.read(min(BLOCK_HEADER_PEEK, block.size or 0))
    try:
        track, length = parse_size(data, block.data_start)
    except Cut:
        track, length = None, 0
    if track is None or len(data) < length + 3:
        raise EbmlError(f"the block at offset {block.start} has no valid header")
    time = int.from_bytes(data[length : length + 2], "big", signed=True)
    return track, time, data[length + 2]


# --- pass 2: render --------------------------------------------------------------------------


def render(file: BinaryIO, layout: Layout, block: int = COPY_BLOCK) -> Iterator[bytes]:
    """The rendition's bytes, in order, reading the source through `file` `block` bytes at a
    time: the clusters are copied, never held whole."""
    seek_head_length = len(_seek_head(layout, [0] * _seek_entries(layout)))
    duration = float(max(1, layout.duration))  # a Duration is never zero
    info = element(INFO, layout.info_children + float_element(DURATION, duration))
    positions = [seek_head_length, seek_head_length + len(info)]  # Info, Tracks
    at = positions[1] + layout.tracks.length
    for _, span in layout.copied:
        positions.append(at)
        at += span.length
    cluster_positions = []
    for cluster in layout.clusters:
        cluster_positions.append(at)
        at += cluster.length
    cues = _cues(layout, cluster_positions)
    if cues:
        positions.append(at)
    segment_size = at + len(cues)

    yield from _copy(file, layout.ebml_header, block)
    yield element_header(SEGMENT, segment_size, POSITION_BYTES)
    yield _seek_head(layout, positions)
    yield info
    yield from _copy(file, layout.tracks, block)
    for _, span in layout.copied:
        yield from _copy(file, span, block)
    for cluster in layout.clusters:
        yield cluster.header
        yield from _copy(file, cluster.body, block)
    yield cues


def _seek_entries(layout: Layout) -> int:
    has_cues = any(c.cue_time is not None for c in layout.clusters)
    return 2 + len(layout.copied) + int(has_cues)


def _seek_head(layout: Layout, positions: list[int]) -> bytes:
    """SeekHead entries for the Info, the Tracks, each copied element, then the Cues."""
    ids = [INFO, TRACKS] + [element_id for element_id, _ in layout.copied] + [CUES]
    entries = b"".join(
        element(
            SEEK,
            element(SEEK_ID, encode_id(element_id))
            + uint_element(SEEK_POSITION, position, POSITION_BYTES),
        )
        for element_id, position in zip(ids, positions, strict=False)
    )
    return element(SEEK_HEAD, entries)


def _cues(layout: Layout, cluster_positions: list[int]) -> bytes:
    points = b"".join(
        element(
            CUE_POINT,
            uint_element(CUE_TIME, cluster.cue_time)
            + element(
                CUE_TRACK_POSITIONS,
                uint_element(CUE_TRACK, layout.cue_track)
                + uint_element(CUE_CLUSTER_POSITION, position, POSITION_BYTES),
            ),
        )
        for cluster, position in zip(layout.clusters, cluster_positions, strict=True)
        if cluster.cue_time is not None
    )
    return element(CUES, points) if points else b""


def _copy(file: BinaryIO, span: Span, block: int) -> Iterator[bytes]:
    file.seek(span.start)
    left = span.length
    while left > 0:
        data = file.read(min(block, left))
        if not data:
            raise Cut(f"the source ended at {span.end - left}, inside what the scan found whole")
        left -= len(data)
        yield data
