"""ICE settings for every peer connection the SFU makes."""

from __future__ import annotations

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCBundlePolicy

from appliance.config import SfuConfig


def ice_servers(config: SfuConfig) -> list[dict[str, str]]:
    """The configured STUN/TURN servers as WebRTC takes them (`urls`, and for TURN `username`
    and `credential`), for the SFU's peer connections and the browsers' alike."""
    servers = []
    for url in (u.strip() for u in config.ice_servers.split(",")):
        if url:
            server = {"urls": url}
            if config.turn_username:
                server |= {"username": config.turn_username, "credential": config.turn_password}
            servers.append(server)
    return servers


def rtc_configuration(config: SfuConfig) -> RTCConfiguration:
    """The configured STUN/TURN servers, and none by default: aiortc would otherwise use a
    public STUN server, which an air-gapped appliance must never contact."""
    servers = [RTCIceServer(**server) for server in ice_servers(config)]
    # One transport for every m-line: with aiortc's default ("balanced"), a subscriber offered
    # two video tracks in one negotiation never started sending the second.
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def gather_on_loopback_only() -> None:
    """Test-only: make aioice offer 127.0.0.1 as the only host candidate.

    aioice leaves loopback out when it lists host addresses; tests on one machine need it, and
    must not send checks to the machine's other addresses.
    """
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
