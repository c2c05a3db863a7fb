"""Waiting for a process that was just started to answer over HTTP."""

from __future__ import annotations

import ssl
import time
import urllib.request


def wait_for_http(url: str, deadline: float, context: ssl.SSLContext | None = None) -> bytes:
    """The body of the first 2xx answer from `url`, retried until `deadline` (monotonic)."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                body: bytes = response.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
