"""Parley: a self-hosted appliance for live video job interviews."""

import os

# onnxruntime starts its telemetry (DNS queries for an outside host) on import unless this is
# set first, and this package is imported before anything of ours imports onnxruntime. The
# systemd units and the image set it too, for any other Python on the box.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
