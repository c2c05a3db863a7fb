"""Where the SFU's media binds: only the configured UDP ports."""

import asyncio
from pathlib import Path

import pytest
from aiortc.contrib.media import MediaPlayer

from tests.support.sfu_harness import (
    Sfu,
    participant_id,
    run,
    until,
)


def candidate_ports(sdp: str) -> list[int]:
    return [int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")]


def test_media_uses_only_the_configured_udp_ports(clip: Path, tmp_path: Path) -> None:
    async def scenario(sfu: Sfu) -> None:
        async with sfu.client("bob") as bob, sfu.client("alice") as alice:
            await alice.publish(MediaPlayer(str(clip), decode=False))
            alice_id = participant_id(alice)
            await until(lambda: len(bob.frames_from(alice_id, "video")) >= 10)
            assert alice.publisher is not None and bob.subscriber is not None
            for sdp in (
                alice.publisher.remoteDescription.sdp,
                bob.subscriber.remoteDescription.sdp,
            ):
                ports = candidate_ports(sdp)  # the SFU's answer to alice, its offer to bob
                assert ports and all(47100 <= port <= 47119 for port in ports), sdp

    run(scenario, tmp_path, settings={"APPLIANCE_SFU_UDP_PORTS": "47100-47119"})


def test_a_udp_port_range_is_checked_and_a_full_one_says_so() -> None:
    import socket

    from appliance.core.config import SfuConfig
    from appliance.core.errors import ApplianceError
    from appliance.sfu.ice import bind_media_in_port_range, udp_port_range

    assert udp_port_range(SfuConfig()) is None
    assert udp_port_range(SfuConfig(udp_ports=" 40000 - 40999 ")) == (40000, 40999)
    for bad in ("40000", "abc", "50000-40000", "80-90", "60000-70000"):
        with pytest.raises(ApplianceError, match="udp_ports"):
            udp_port_range(SfuConfig(udp_ports=bad))

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            bind_media_in_port_range(loop, (port, port))
            with pytest.raises(OSError, match="in use"):
                await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
                )
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        assert transport.get_extra_info("sockname")[1] == port  # free again: it is used
        transport.close()

    asyncio.run(scenario())
