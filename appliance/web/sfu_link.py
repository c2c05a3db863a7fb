"""How a browser reaches the SFU's signaling websocket, and which ICE servers it uses."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from appliance.contracts.ice_servers import ice_servers
from appliance.core.config import Config


@dataclass(frozen=True)
class SfuLink:
    # The websocket URL; empty: the page's own host name at `port` (no reverse proxy in front).
    url: str
    port: int
    # What the Content-Security-Policy's connect-src must add for the page to open it.
    connect_src: str
    ice_servers: list[dict[str, str]]


def sfu_link(config: Config) -> SfuLink:
    """`[sfu] public_url` when set; else, behind the box's proxy (`[web] public_url` set), the
    same origin's /sfu/ws; else the SFU's own port on whatever host the page was loaded from."""
    ice = ice_servers(config.sfu)
    if config.sfu.public_url.startswith("/"):  # on the page's own origin, via the proxy
        return SfuLink(config.sfu.public_url, 0, "", ice)
    if config.sfu.public_url:
        parts = urlsplit(config.sfu.public_url)
        return SfuLink(config.sfu.public_url, 0, f"{parts.scheme}://{parts.netloc}", ice)
    if config.web.public_url:
        base = config.web.public_url.rstrip("/")
        scheme = "wss" if base.startswith("https://") else "ws"
        return SfuLink(f"{scheme}://{base.split('://', 1)[1]}/sfu/ws", 0, "", ice)
    port = config.sfu.port
    return SfuLink("", port, f"ws://*:{port} wss://*:{port}", ice)
