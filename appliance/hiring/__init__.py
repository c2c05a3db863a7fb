"""Positions, candidates, interview kits, scheduling, invitations, notifications and mail."""
