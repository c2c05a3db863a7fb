"""An SFU process that records into sealed test files; tests kill it with SIGKILL mid-session.

Usage: sfu_recording_server.py DIRECTORY. Prints the port, then the signing key seed (hex).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.config import load_config
from appliance.sfu.server import create_app
from tests.sfu_harness import SealedFiles


async def main(directory: Path) -> None:
    sinks = SealedFiles(directory)
    (directory / "key").write_bytes(sinks.data_key + sinks.key_id)
    key = Ed25519PrivateKey.generate()
    config = load_config(directory, environ={"APPLIANCE_SFU_ICE_LOOPBACK_ONLY": "true"})
    runner = web.AppRunner(create_app(config, key.public_key(), sinks))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    print(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
