"""An SFU process that records; tests kill it with SIGKILL mid-session.

Usage: sfu_recording_server.py DIRECTORY           records into sealed test files in DIRECTORY;
                                                    prints the port, then the signing key seed
       sfu_recording_server.py --data-dir DIRECTORY records as `appliance serve sfu` does, into
                                                    the data dir's blob store, configured by
                                                    APPLIANCE_* variables; prints the port
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appliance.core.config import load_config
from appliance.sfu.sealed_sinks import SealedRecordings
from appliance.sfu.server import create_app
from tests.support.sfu_harness import SealedFiles

LOOPBACK = {"APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true"}


async def serve(app: web.Application) -> int:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


async def test_files(directory: Path) -> None:
    sinks = SealedFiles(directory)
    (directory / "key").write_bytes(sinks.data_key + sinks.key_id)
    key = Ed25519PrivateKey.generate()
    config = load_config(directory, environ=LOOPBACK)
    print(await serve(create_app(config, key.public_key(), sinks)), flush=True)
    print(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex(), flush=True)
    await asyncio.Event().wait()


async def data_dir(directory: Path) -> None:
    config = load_config(directory, environ={**os.environ, **LOOPBACK})
    sinks = SealedRecordings(config)
    sinks.announce_start()
    print(await serve(create_app(config, sinks=sinks)), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "--data-dir":
        asyncio.run(data_dir(Path(sys.argv[2])))
    else:
        asyncio.run(test_files(Path(sys.argv[1])))
