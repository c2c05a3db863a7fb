"""The STUN/TURN servers WebRTC is told about, the same list for the SFU's peer connections and
for the browsers' (the web process hands it to pages; the SFU to aiortc).

Pure data from the configuration: no WebRTC library is imported here, so the web process can
use it without loading aiortc.
"""

from __future__ import annotations

from appliance.core.config import SfuConfig


def ice_servers(config: SfuConfig) -> list[dict[str, str]]:
    """The configured STUN/TURN servers as WebRTC takes them (`urls`, and for TURN `username`
    and `credential`); none by default, so an air-gapped box names no public server."""
    servers = []
    for url in (u.strip() for u in config.ice_servers.split(",")):
        if url:
            server = {"urls": url}
            if config.turn_username:
                server |= {"username": config.turn_username, "credential": config.turn_password}
            servers.append(server)
    return servers
