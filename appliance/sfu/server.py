"""The SFU's HTTP side. For now it answers health checks only; media arrives in a later release."""

from __future__ import annotations

from aiohttp import web

from appliance import __version__


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "ok", "version": __version__, "components": [{"name": "sfu", "ok": True}]}
    )


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


def run(host: str, port: int) -> None:
    web.run_app(create_app(), host=host, port=port, print=None, handle_signals=True)
