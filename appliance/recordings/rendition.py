"""Seekable renditions of live recordings: each participant's track remuxed (recordings/
seekable.py) so that a player knows its duration and can seek in it, decrypting a bounded
window at a time and writing nothing decrypted to disk. The rendition is sealed as a blob of
kind `rendition` of the same recording, named after its source (rendition_filename), and the
review page plays it in place of the source.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import PurePosixPath

from appliance.core.errors import ApplianceError
from appliance.db.models import Recording, RecordingBlob
from appliance.recordings.seekable import render, scan
from appliance.recordings.store import READABLE_BLOBS, BlobSpec, open_file, seal_blob
from appliance.recordings.transcription import TRACK_KINDS, track_blobs
from appliance.runtime import Runtime

logger = logging.getLogger(__name__)

ACTOR = "worker"
KIND = "rendition"
# The media types a rendition is made of, and the extension of its filename.
EXTENSIONS = {
    "video/webm": "webm",
    "audio/webm": "webm",
    "video/x-matroska": "mkv",
    "audio/x-matroska": "mka",
}
MAX_FILENAME = 255  # RecordingBlob.filename


def rendition_filename(source: RecordingBlob) -> str:
    """The filename that ties a rendition to its source, as no column does:
    `<source stem>.<source object id>.seekable.<ext>`. The object id is in it because the SFU
    names every track of a participant `<identity>.<ext>`: one who publishes twice has two."""
    stem = PurePosixPath(str(source.filename)).stem or "track"
    suffix = f".{source.object_id}.seekable.{EXTENSIONS.get(str(source.media_type), 'mkv')}"
    return stem[: MAX_FILENAME - len(suffix)] + suffix


def renditions(recording: Recording, sources: Iterable[RecordingBlob]) -> dict[str, RecordingBlob]:
    """Each source's newest finished rendition, by the source's object id."""
    made: dict[str, RecordingBlob] = {}
    for blob in (
        RecordingBlob.select()
        .where(
            (RecordingBlob.recording == recording)
            & (RecordingBlob.kind == KIND)
            & (RecordingBlob.status == "complete")
        )
        .order_by(RecordingBlob.id)
    ):
        made[str(blob.filename)] = blob
    found = {}
    for source in sources:
        rendition = made.get(rendition_filename(source))
        if rendition is not None:
            found[str(source.object_id)] = rendition
    return found


def make_rendition(runtime: Runtime, source: RecordingBlob) -> RecordingBlob | None:
    """The seekable rendition of one participant's track, sealed as a blob of its recording
    (or the one made before). None when there is none to make: the source is not a readable
    Matroska or WebM track, is seekable already, or cannot be parsed (logged)."""
    if (
        source.kind not in TRACK_KINDS
        or source.status not in READABLE_BLOBS
        or str(source.media_type) not in EXTENSIONS
    ):
        return None
    recording = source.recording
    existing = renditions(recording, [source]).get(str(source.object_id))
    if existing is not None:
        return existing
    if recording.status == "erased" or recording.key_id is None:
        return None
    spec = BlobSpec(
        str(source.participant_identity),
        KIND,
        rendition_filename(source),
        str(source.media_type),
    )
    try:
        with open_file(runtime, ACTOR, source, "rendition") as file:
            layout = scan(file)
            if layout.seekable:
                logger.info(
                    "recording %s: %s is seekable already; it needs no rendition",
                    recording.id,
                    source.object_id,
                )
                return None
            made = seal_blob(runtime, ACTOR, recording, spec, render(file, layout), durable=False)
    except (ApplianceError, OSError) as exc:  # the source is intact, and plays as it is
        level = logging.WARNING if isinstance(exc, ApplianceError) else logging.ERROR
        logger.log(
            level,
            "recording %s: no seekable rendition of %s: %s",
            recording.id,
            source.object_id,
            exc,
        )
        return None
    if layout.cut:
        logger.info(
            "recording %s: the rendition of %s keeps the part written before the recording "
            "was cut short",
            recording.id,
            source.object_id,
        )
    return made


def make_renditions(runtime: Runtime, recording: Recording) -> list[RecordingBlob]:
    """The seekable renditions of every track of `recording` that has (or now gets) one."""
    if recording.status == "erased" or recording.key_id is None:
        return []
    made = (make_rendition(runtime, source) for source in track_blobs(recording))
    return [blob for blob in made if blob is not None]
