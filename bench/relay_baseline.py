"""Baseline for bench/sfu.py: aiortc's MediaRelay, which decodes once and re-encodes for every
subscriber. A minimal HTTP-signaled server, run as its own process so its CPU can be measured.

POST /publish {sdp} -> {sdp}; POST /subscribe -> {id, sdp}; POST /answer {id, sdp}.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from appliance.sfu.ice import gather_on_loopback_only

relay = MediaRelay()
tracks: list[Any] = []
peers: dict[str, RTCPeerConnection] = {}


async def publish(request: web.Request) -> web.Response:
    body = await request.json()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers[secrets.token_hex(4)] = pc
    pc.on("track", tracks.append)
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.json_response({"sdp": pc.localDescription.sdp})


async def subscribe(request: web.Request) -> web.Response:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer_id = secrets.token_hex(4)
    peers[peer_id] = pc
    for track in tracks:
        pc.addTrack(relay.subscribe(track))
    await pc.setLocalDescription(await pc.createOffer())
    return web.json_response({"id": peer_id, "sdp": pc.localDescription.sdp})


async def answer(request: web.Request) -> web.Response:
    body = await request.json()
    await peers[body["id"]].setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
    return web.json_response({})


async def reset(request: web.Request) -> web.Response:
    for pc in peers.values():
        await pc.close()
    peers.clear()
    tracks.clear()
    return web.json_response({})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    gather_on_loopback_only()
    app = web.Application()
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    app.router.add_post("/answer", answer)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
