"""Live recordings into the sealed blob store, reported through the spool.

Each recorded room gets a fresh data key, wrapped at once for the appliance's intake key (the
SFU holds only its public half) and reported with the room's other events; the worker files it
in the keystore. Blobs are written by the SFU directly, each chunk fsynced.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from appliance.contracts.recording_events import (
    BlobClosed,
    BlobOpened,
    RecordingEvent,
    RecordingFinished,
    RecordingStarted,
    SfuStarted,
    spool_dir,
    write_event,
)
from appliance.core.config import Config
from appliance.sfu.codecs import CONTAINERS
from appliance.storage.appliance_keys import load_intake_recipient
from appliance.storage.blobstore import HashingFile, LocalBlobStore
from appliance.storage.recipients import wrap_for_recipient
from appliance.storage.sealed import SealWriter, new_object_id

logger = logging.getLogger(__name__)


@dataclass
class _OpenBlob:
    object_id: bytes
    file: BinaryIO
    hashing: HashingFile
    writer: SealWriter


class SealedRoom:
    """One room's recording: sinks per participant, all under the room's data key."""

    def __init__(self, recordings: SealedRecordings, room: str, interview_id: int) -> None:
        self.recordings = recordings
        self.key_id = secrets.token_bytes(16)
        self._data_key = secrets.token_bytes(32)
        self._open: dict[int, _OpenBlob] = {}
        wrapped = wrap_for_recipient(recordings.intake, self.key_id, self._data_key)
        # Announced with the first blob: that runs on a writer thread, never on the event loop
        # that created the room, and a room where nobody published files nothing at all.
        self._announcement: RecordingStarted | None = RecordingStarted(
            key_id=self.key_id.hex(),
            interview_id=interview_id,
            room=room,
            node=recordings.node,
            wrapped_key=base64.b64encode(wrapped).decode(),
            started_at=time.time(),
        )

    def _event(self, event: RecordingEvent) -> None:
        write_event(self.recordings.spool, event)

    def _create(self, identity: str, kind: str, filename: str, media_type: str) -> SealWriter:
        if self._announcement is not None:
            self._event(self._announcement)
            self._announcement = None
        object_id = new_object_id()
        file = self.recordings.store.create(object_id)
        hashing = HashingFile(file)
        try:
            writer = SealWriter(
                hashing, self._data_key, self.key_id, object_id, self.recordings.chunk_size
            )
        except OSError:  # not even its header fits: nothing to file
            file.close()
            self.recordings.store.delete(object_id)
            raise
        self._open[id(writer)] = _OpenBlob(object_id, file, hashing, writer)
        self._event(
            BlobOpened(
                key_id=self.key_id.hex(),
                object_id=object_id.hex(),
                participant=identity,
                kind=kind,
                filename=filename,
                media_type=media_type,
            )
        )
        return writer

    def open(self, participant_identity: str, container: str) -> SealWriter:
        extension, media_type = CONTAINERS[container]
        filename = f"{participant_identity}.{extension}"
        return self._create(participant_identity, "media", filename, media_type)

    def close(self, participant_identity: str, sink: Any) -> None:
        blob = self._open[id(sink)]
        blob.writer.close()  # a full disk fails it here: the blob stays open, to abandon
        del self._open[id(sink)]
        blob.file.close()
        self._event(
            BlobClosed(
                key_id=self.key_id.hex(),
                object_id=blob.object_id.hex(),
                plaintext_bytes=blob.writer.plaintext_bytes,
                sealed_sha256=blob.hashing.sha256.hexdigest(),
            )
        )

    def abandon(self, participant_identity: str, sink: Any) -> None:
        """Close the file of a blob whose writing failed, unsealed: no BlobClosed, so the
        worker salvages its readable prefix when the recording finishes."""
        blob = self._open.pop(id(sink))
        with contextlib.suppress(OSError):
            blob.file.close()

    def finish(self, manifest: dict[str, Any]) -> None:
        if self._announcement is not None:  # nobody was ever recorded
            self._data_key = b""
            return
        try:
            writer = self._create("room", "manifest", "manifest.json", "application/json")
            writer.write(json.dumps(manifest, indent=2).encode())
            self.close("room", writer)
        except OSError as exc:  # the recording is filed without it (its blobs say enough)
            logger.error(
                "room recording %s: its manifest was not saved: %s", self.key_id.hex(), exc
            )
        self._event(RecordingFinished(key_id=self.key_id.hex(), ended_at=time.time()))
        self._data_key = b""


class SealedRecordings:
    """The SFU's recording sinks on one box: the data dir's blob store and spool."""

    def __init__(self, config: Config) -> None:
        self.store = LocalBlobStore(config.blob_dir)
        self.spool = spool_dir(config.data_dir)
        self.intake = load_intake_recipient(config.data_dir)
        self.chunk_size = config.storage.chunk_size
        self.node = config.sfu.node or socket.gethostname()

    def announce_start(self) -> None:
        """Report that this node (re)started: whatever it was recording before is interrupted.

        Written before any room opens, so the worker applies it before this run's recordings.
        """
        write_event(self.spool, SfuStarted(node=self.node, at=time.time()))

    def start(self, room: str, interview_id: int | None) -> SealedRoom | None:
        """A recording for the room, or None when it is not an interview (nothing to file under)."""
        if interview_id is None:
            return None
        return SealedRoom(self, room, interview_id)
