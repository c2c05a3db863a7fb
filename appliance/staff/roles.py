"""Which roles make up each group of staff, for the routes' access rules (web/access.py) and
the domain rules that depend on a role alike."""

from __future__ import annotations

from appliance.db.models import Role, User

# Recruiters and administrators: positions, candidates, scheduling, every interview.
HIRING = frozenset({Role.ADMIN, Role.RECRUITER})
# Everyone who may sit on an interview's panel.
PANEL = frozenset({Role.ADMIN, Role.RECRUITER, Role.INTERVIEWER})


def is_hiring(user: User) -> bool:
    """Whether the user sees and changes every interview, not only their own."""
    return Role(user.role) in HIRING
