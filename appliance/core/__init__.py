"""What every layer stands on: configuration, errors, atomic files, validation, liveness and
systemd notification."""
