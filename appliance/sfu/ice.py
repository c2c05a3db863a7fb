"""ICE settings for every peer connection the SFU makes."""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import re
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCBundlePolicy

from appliance.contracts.ice_servers import ice_servers
from appliance.core.config import SfuConfig
from appliance.core.errors import ApplianceError

logger = logging.getLogger(__name__)

PORT_RANGE = re.compile(r"^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$")


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


def udp_port_range(config: SfuConfig) -> tuple[int, int] | None:
    """`[sfu] udp_ports` as (first, last); None when unset (any ephemeral port)."""
    if not config.udp_ports.strip():
        return None
    match = PORT_RANGE.match(config.udp_ports)
    first, last = (int(match[1]), int(match[2])) if match else (0, 0)
    if not match or not 1024 <= first <= last <= 65535:
        raise ApplianceError(
            f"[sfu] udp_ports must be a range such as 40000-40999 within 1024-65535, "
            f"not {config.udp_ports!r}"
        )
    return first, last


def bind_media_in_port_range(loop: asyncio.AbstractEventLoop, ports: tuple[int, int]) -> None:
    """Make every UDP socket this loop binds to "any port" take a free one in `ports` instead.

    aioice binds each host candidate's socket to port 0 and has no setting for a range; in the
    SFU process nothing else binds UDP to port 0 (a TURN client names its server instead).
    """
    original = loop.create_datagram_endpoint
    first, last = ports

    async def create_datagram_endpoint(
        protocol_factory: Any, local_addr: Any = None, remote_addr: Any = None, **kwargs: Any
    ) -> Any:
        if local_addr is None or local_addr[1] != 0 or remote_addr is not None:
            return await original(
                protocol_factory, local_addr=local_addr, remote_addr=remote_addr, **kwargs
            )
        count = last - first + 1
        start = random.randrange(count)  # spread out, so a closed port is not reused at once
        for port in (first + (start + i) % count for i in range(count)):
            try:
                address = (local_addr[0], port, *local_addr[2:])  # IPv6: flow info, scope
                return await original(protocol_factory, local_addr=address, **kwargs)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        logger.warning("every UDP port in %d-%d is in use: widen [sfu] udp_ports", first, last)
        raise OSError(errno.EADDRINUSE, f"every UDP port in {first}-{last} is in use")

    loop.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign]
