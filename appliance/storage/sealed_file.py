"""A sealed object read as a seekable file, decrypting only the chunks a read touches.

Media libraries (PyAV for transcription, range requests for playback) want a file object;
this gives them one without ever writing plaintext to disk.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable

from appliance.storage.sealed import SealedReader


class SealedFile(io.RawIOBase):
    """With `prefix`, an unfinished object (a recording cut short) reads as what was written;
    without, it raises Truncated."""

    def __init__(self, reader: SealedReader, *, prefix: bool = False) -> None:
        super().__init__()
        self.reader = reader
        self.prefix = prefix
        self.length = reader.prefix_size() if prefix else reader.size()
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.length}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.reader.read_range(self.position, len(buffer), prefix=self.prefix)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.reader.close()
        super().close()


class FollowedFile(io.RawIOBase):
    """A sealed object read front to back while its writer is still writing it (a live
    recording's track): a read at the end of what is sealed so far waits for the next chunk,
    until the object is complete or `finished()` says its writer is done (what was written is
    then all there is). Not seekable: a demuxer reads it as a stream."""

    def __init__(
        self, reader: SealedReader, finished: Callable[[], bool], poll: float = 0.5
    ) -> None:
        super().__init__()
        self.reader = reader
        self.finished = finished
        self.poll = poll
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            available = self.reader.prefix_size() - self.position
            if available <= 0:
                available = self.reader.refresh() - self.position
            if available > 0:
                data = self.reader.read_range(self.position, len(buffer), prefix=True)
                buffer[: len(data)] = data
                self.position += len(data)
                return len(data)
            if self.reader.complete or self.finished():
                self.reader.refresh()  # the last chunks may have landed with the news
                if self.reader.prefix_size() > self.position:
                    continue
                return 0
            time.sleep(self.poll)

    def close(self) -> None:
        if not self.closed:
            self.reader.close()
        super().close()
