"""A signed-in browser's CSRF token belongs to its session.

litestar's CSRF check (a signed token in a cookie, sent back in a form field or header) proves
that a write came from a page of this site, but any valid token passes: one an attacker fetched
for themselves and planted as a cookie (from a sibling host, or over plain HTTP) would do. So a
signed-in browser gets a token derived from its session, in the same signed format, and a write
with a session and any other token is refused (web/app.py). Signing in issues it; a page opened
with an older token gets it on its next load.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar.datastructures import Cookie
from litestar.middleware.csrf import generate_csrf_hash

from appliance.core.config import Config
from appliance.web.access import CSRF_COOKIE, cookie_name

# The scope key under which a request asks for its bound token to be set as the cookie.
RENEW = "parley.csrf_renewal"


class CsrfBinding:
    def __init__(self, config: Config, csrf_secret: str, binding_key: bytes) -> None:
        self._config = config
        self._secret = csrf_secret
        self._key = binding_key

    def token_for(self, session_token: str) -> str:
        """The session's CSRF token: 64 hex characters derived from it, then litestar's HMAC."""
        bound = hmac.new(self._key, session_token.encode(), hashlib.sha256).hexdigest()
        return bound + generate_csrf_hash(token=bound, secret=self._secret)

    def cookie(self, token: str) -> Cookie:
        """The CSRF cookie as litestar sets it (web/app.py CSRFConfig), holding `token`."""
        return Cookie(
            key=cookie_name(self._config, CSRF_COOKIE),
            value=token,
            path="/",
            samesite="strict",
            secure=self._config.public_url.startswith("https://"),
        )
