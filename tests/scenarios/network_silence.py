"""Runs a command in a fresh network namespace whose default route leads to a capture interface,
and reports every packet sent on any interface meanwhile, as JSON on stdout.

The watch ends after `seconds`, or a second after the command exits if that is sooner. Run as
root under `unshare -n`. The capture interface is one end of a veth pair whose other end
has no address: whatever is sent there goes nowhere. A control datagram sent first proves the
capture sees what leaves the box.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
GATEWAY = "192.0.2.254"  # TEST-NET-1, on the capture link only
CONTROL_PORT = 9


def setup_namespace() -> None:
    for command in (
        # No IPv6 link-local chatter (router solicitations, MLD) on the new links.
        "sysctl -qw net.ipv6.conf.default.disable_ipv6=1",
        "sysctl -qw net.ipv6.conf.all.disable_ipv6=1",
        "ip link set lo up",
        "ip link add capture0 type veth peer name capture1",
        "ip addr add 192.0.2.1/24 dev capture0",
        "ip link set capture0 up",
        "ip link set capture1 up",
        # A fixed neighbour: packets for the gateway leave at once instead of waiting on ARP.
        f"ip neigh add {GATEWAY} lladdr 02:00:00:00:00:fe dev capture0 nud permanent",
        f"ip route add default via {GATEWAY} dev capture0",
    ):
        subprocess.run(command.split(), check=True)


def describe(frame: bytes, interface: str) -> dict[str, object]:
    """Interface, and for IPv4 the protocol, addresses and ports."""
    packet: dict[str, object] = {"interface": interface, "bytes": len(frame)}
    # veth and loopback frames carry a 14-byte Ethernet header.
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        packet |= {
            "protocol": ip[9],
            "source": socket.inet_ntoa(ip[12:16]),
            "destination": socket.inet_ntoa(ip[16:20]),
        }
        if ip[9] in (6, 17) and len(ip) >= header + 4:
            packet["port"] = int.from_bytes(ip[header + 2 : header + 4], "big")
        if ip[9] == 17 and packet.get("port") == 53:
            packet["query"] = dns_name(ip[header + 8 + 12 :])
    return packet


def dns_name(data: bytes) -> str:
    """The first question's name of a DNS query."""
    labels, at = [], 0
    while at < len(data) and data[at] and len(labels) < 64:
        labels.append(data[at + 1 : at + 1 + data[at]].decode("ascii", "replace"))
        at += 1 + data[at]
    return ".".join(labels)


def main() -> int:
    seconds = float(sys.argv[1])
    command = sys.argv[2:]
    setup_namespace()
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    capture.settimeout(0.2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        control.sendto(b"control", (GATEWAY, CONTROL_PORT))
    child = subprocess.Popen(command, stdout=sys.stderr)  # stdout is the report's
    packets = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:  # it finished: what it sent is on the wire within a second
            deadline = min(deadline, time.monotonic() + 1.0)
        try:
            frame, address = capture.recvfrom(65535)
        except TimeoutError:
            continue
        if address[2] == socket.PACKET_OUTGOING:
            packets.append(describe(frame, address[0]))
    child.terminate()
    child.wait()
    json.dump(packets, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
