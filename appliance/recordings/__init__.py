"""Recordings as a domain: filing the SFU's events, transcription, export, erasure, retention."""
