"""Everything that must stay trustworthy at rest: keys, the audit log, sealed recordings."""
