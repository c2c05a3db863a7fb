"""The box itself: first run, the data dir, settings, TLS and ACME, backup, host name."""
