"""The SFU process: health checks and the signaling websocket, on aiohttp."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance import __version__
from appliance.contracts.ended_rooms import ended, ended_rooms_dir
from appliance.core.config import Config
from appliance.core.ratelimit import AddressLimiter
from appliance.core.sdnotify import keep_alive, notify
from appliance.sfu.aiortc_hooks import enlarge_udp_receive_buffers
from appliance.sfu.audio_tap import CAPTION_DROPS, CaptionService
from appliance.sfu.connections import ConnectionGate, connection_budget, raise_open_file_limit
from appliance.sfu.forwarder import VIDEO_FRAMES
from appliance.sfu.ice import (
    bind_media_in_port_range,
    gather_on_loopback_only,
    rtc_configuration,
    udp_port_range,
)
from appliance.sfu.looplag import LoopLagMonitor
from appliance.sfu.recorder import RECORDING_DROPS, RecordingSinks
from appliance.sfu.room import Rooms
from appliance.sfu.sealed_sinks import SealedRecordings
from appliance.sfu.signaling import websocket_handler
from appliance.storage.appliance_keys import key_dir, load_public_key

ROOMS = web.AppKey("rooms", Rooms)
LOOP_LAG = web.AppKey("loop_lag", LoopLagMonitor)
SECRETS_SEEN = web.AppKey("secrets_seen", list[str])
CONNECTIONS = web.AppKey("connections", ConnectionGate)
STATIC = Path(__file__).parent.parent / "web" / "static"
ENDED_ROOMS_POLL_SECONDS = 1.0
logger = logging.getLogger(__name__)


async def _test_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "sfu-test.html")


SECRETS = ("keys/kek.key", "keys/signing.key", "keys/intake.key", "appliance.db")


def readable_secrets(data_dir: Path) -> list[str]:
    """The data dir's secrets this process could read. The SFU needs none of them; under the
    appliance's units they are hidden from it (InaccessiblePaths), and health says so."""
    readable = []
    for name in SECRETS:
        try:
            with (data_dir / name).open("rb") as secret:
                secret.read(1)
        except OSError:
            continue
        readable.append(name)
    return readable


async def healthz(request: web.Request) -> web.Response:
    rooms = request.app[ROOMS]
    lag = request.app[LOOP_LAG]
    participants = sum(len(room.participants) for room in rooms.rooms.values())
    if request.query.get("reset_lag") == "1":
        lag.reset()
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "components": [{"name": "sfu", "ok": True}],
            "rooms": len(rooms.rooms),
            "participants": participants,
            "connections": request.app[CONNECTIONS].open_connections,
            "loop_lag_ms_p50": round(lag.percentile(0.5) * 1000, 2),
            "loop_lag_ms_p99": round(lag.percentile(0.99) * 1000, 2),
            "readable_secrets": request.app[SECRETS_SEEN],
            **VIDEO_FRAMES,
            **RECORDING_DROPS,
            **CAPTION_DROPS,
        }
    )


# The SFU's own pages (the test room) and answers get the web app's defences, and name no
# server software or version.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
}


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Server"] = "Parley"


async def _watch_ended_rooms(rooms: Rooms) -> None:
    """Close, within about a second, the rooms the web process says have ended."""
    while True:
        await asyncio.sleep(ENDED_ROOMS_POLL_SECONDS)
        try:
            await rooms.close_ended()
        except Exception:
            logger.exception("checking for ended rooms failed")


def create_app(
    config: Config,
    public_key: Ed25519PublicKey | None = None,
    sinks: RecordingSinks | None = None,
    captions: CaptionService | None = None,
) -> web.Application:
    """The SFU app; join tokens are checked against the appliance's signing.pub.

    Rooms record only when `sinks` says where recordings go; without it `joined` reports
    `recording: false`. With `captions`, every publisher's audio is decoded for it.
    """
    if config.sfu.ice_loopback_only:
        gather_on_loopback_only()
    enlarge_udp_receive_buffers()
    media_ports = udp_port_range(config.sfu)
    key = public_key or load_public_key(key_dir(config.data_dir) / "signing.pub")
    ended_dir = ended_rooms_dir(config.data_dir)
    rooms = Rooms(
        config.sfu,
        rtc_configuration(config.sfu),
        sinks,
        captions,
        ended_record=lambda room: ended(ended_dir, key, room),
    )
    app = web.Application()
    app.on_response_prepare.append(_secure)
    app[ROOMS] = rooms
    monitor = LoopLagMonitor()
    app[LOOP_LAG] = monitor
    app[SECRETS_SEEN] = readable_secrets(config.data_dir)
    app.router.add_get("/healthz", healthz)
    limiter = AddressLimiter(config.sfu.joins_per_minute, config.sfu.join_burst)
    gate = ConnectionGate(
        config.sfu.max_connections_per_address,
        connection_budget(config.sfu, raise_open_file_limit()),
    )
    app[CONNECTIONS] = gate
    handler = websocket_handler(rooms, key, limiter, gate, config.sfu.join_timeout_seconds)
    app.router.add_get("/sfu/ws", handler)
    # The browser client and a bare test room page, same-origin with the websocket.
    app.router.add_get("/sfu/test.html", _test_page)
    app.router.add_static("/sfu/static", STATIC, follow_symlinks=False)

    alive: list[asyncio.Task[None]] = []

    async def start_monitor(app: web.Application) -> None:
        if media_ports is not None:
            bind_media_in_port_range(asyncio.get_running_loop(), media_ports)
        monitor.start()
        alive.append(asyncio.create_task(keep_alive()))
        alive.append(asyncio.create_task(_watch_ended_rooms(rooms)))

    async def close_rooms(app: web.Application) -> None:
        notify("STOPPING=1")
        for task in alive:
            task.cancel()
        await rooms.close()
        await monitor.stop()

    app.on_startup.append(start_monitor)
    app.on_shutdown.append(close_rooms)
    return app


def run(config: Config, port: int) -> None:
    """Serve with recordings sealed into the data dir's blob store and filed by the worker,
    and live captions when a speech model is installed."""
    from appliance.sfu.captions import open_live_captions

    sinks = SealedRecordings(config)
    sinks.announce_start()
    app = create_app(config, sinks=sinks, captions=open_live_captions(config))
    web.run_app(app, host=config.sfu.host, port=port, print=None)
