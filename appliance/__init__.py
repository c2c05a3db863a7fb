"""Parley: a self-hosted appliance for live video job interviews."""

__version__ = "0.1.0"
