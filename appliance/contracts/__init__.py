"""What two processes share without importing each other: join tokens, recording events and
ICE servers."""
