"""The web process: litestar app, staff sign-in, server-rendered pages and the JSON API."""
