"""Requests the box makes to an address an administrator typed: where they may go, and the
connection that goes only there.

Left unchecked, a webhook URL would let whoever configures it make the box probe its own
network: its loopback services and the link-local range (cloud metadata endpoints among them).
Those are refused unless the administrator allows them for that endpoint. The name is resolved
when the request is made, checked, and the connection opened to the checked address itself, so
a name that resolves differently a second later (DNS rebinding) gains nothing. TLS still checks
the certificate against the name.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from appliance.core.errors import ApplianceError, Invalid

MAX_URL = 2000
# An http(s) address with a host (a name, or an IPv6 literal in brackets), no user or password,
# no spaces or control characters: valid in Python's and JSON Schema's dialects alike.
URL_PATTERN = (
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[^\x00-\x20\x7f@/?#:\[\]]+)(:[0-9]{1,5})?"
    r"([/?#][^\x00-\x20\x7f]*)?$"
)


class Refused(ApplianceError):
    """A well-formed address the box will not send to: it does not resolve, its port is out of
    range, or it is on the box's own network."""


# What a receiver's answer may hold before it is cut off; nothing of it is kept but its status.
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> Target:
    """An http(s) URL with a host and no credentials in it (Invalid saying why not), with a
    port in range (Refused otherwise)."""
    if len(url) > MAX_URL:
        raise Invalid(f"URL: an http or https address of at most {MAX_URL} characters")
    authority = re.match(r"^[^:/?#]+://([^/?#]*)", url)
    if authority is not None and "@" in authority.group(1):
        raise Invalid("URL: no user name or password in the address; the secret signs requests")
    if re.fullmatch(URL_PATTERN, url) is None:
        raise Invalid(
            "URL: an http or https address with a host and no spaces, like "
            "https://ats.example/hooks"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an IPv6 literal that is not one, a port past 65535
        raise Refused("URL: the host or the port is not valid") from None
    if not parts.hostname:
        raise Refused("URL: the address has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(
        parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path
    )


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def resolve(target: Target, allow_internal: bool) -> str:
    """The address to connect to for `target`; Refused when the name does not resolve or, unless
    `allow_internal`, when it resolves to a loopback, link-local or otherwise internal one."""
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"URL: the name {target.host} does not resolve ({exc})") from None
    addresses = [str(info[4][0]) for info in found]
    if not allow_internal:
        refused = [a for a in addresses if _internal(ipaddress.ip_address(a.split("%")[0]))]
        if refused:
            raise Refused(
                f"URL: {target.host} is {refused[0]}, an address of the box's own network "
                "(loopback or link-local); allow internal addresses for this endpoint to use it"
            )
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], allow_internal: bool, timeout: float
) -> int:
    """POST `body` to `url` and answer the response's status; redirects are not followed.
    Raises Invalid or Refused for an address that is refused, OSError for one that cannot be
    reached or does not answer in `timeout` seconds."""
    target = parse_url(url)
    address = resolve(target, allow_internal)
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target.host, target.port, address, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER)
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(f"the answer was not HTTP ({type(exc).__name__})") from None
    finally:
        connection.close()
