"""Route handlers, one module per noun; each handler states its access rule (see web.access)."""
