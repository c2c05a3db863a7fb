"""How tests drive Debian's Firefox: headless, over Marionette (its own remote protocol, since
Playwright drives only its patched builds), with a fake camera and microphone."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a browser starts: pytest itself only needs the constants
    from marionette_driver.marionette import Marionette

FIREFOX = "/usr/bin/firefox-esr"
PREFS = {
    # A synthetic camera and microphone, granted without a prompt.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # Plain host candidates, not mDNS names nobody in the namespace could resolve.
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # No sound card on a test machine: Firefox's mock audio backend, or every AudioContext
    # would stay suspended.
    "media.cubeb.force_mock_context": True,
}
# Firefox gathers ICE candidates only on an interface with a default route: the namespace gets
# a veth pair (10.77.0.1, its peer the gateway) and nothing else, so no packet can leave it.
NAMESPACE = (
    "ip link set lo up"
    " && ip link add v0 type veth peer name v1"
    " && ip addr add 10.77.0.1/24 dev v0 && ip link set v0 up && ip link set v1 up"
    " && ip route add default via 10.77.0.2 dev v0"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_firefox() -> Marionette:
    from marionette_driver.marionette import Marionette

    firefox = Marionette(
        bin=FIREFOX,
        headless=True,
        prefs=PREFS,
        port=_free_port(),
        gecko_log=str(Path(tempfile.mkdtemp()) / "gecko.log"),
    )
    firefox.start_session()
    return firefox


def page_value(firefox: Marionette, expression: str) -> Any:
    """`expression` evaluated in the page itself (not Marionette's sandbox, which cannot see
    what the page's scripts put on `window`)."""
    return firefox.execute_script(f"return {expression};", sandbox=None)


def page_promise(firefox: Marionette, expression: str) -> Any:
    """The value of a promise the page's own scripts return."""
    script = (
        "const [resolve] = arguments;"
        f"Promise.resolve({expression}).then(resolve, (e) => resolve(String(e)));"
    )
    return firefox.execute_async_script(script, sandbox=None)


def wait_until(firefox: Marionette, expression: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = page_value(firefox, expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {expression}")
        time.sleep(0.2)
