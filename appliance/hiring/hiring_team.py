"""A position's hiring team: staff who may review and score its interviews though they were
not on the panel, and its hiring manager, the member who decides on its candidates (with the
administrators). Recruiters and admins see every interview anyway; compliance officers audit,
they do not review."""

from __future__ import annotations

from appliance.core.errors import ApplianceError, NotFound
from appliance.db.models import HiringTeamMember, Role, User
from appliance.hiring.positions import get_position
from appliance.storage.audit import AuditLog

MAY_JOIN = (Role.INTERVIEWER, Role.RECRUITER, Role.ADMIN)


def members(position_id: int) -> list[User]:
    """The team, by name."""
    return list(
        User.select()
        .join(HiringTeamMember)
        .where(HiringTeamMember.position == position_id)
        .order_by(User.name, User.email)
    )


def candidates_for_team(position_id: int) -> list[User]:
    """Active staff who could join the team and are not on it yet."""
    on_team = HiringTeamMember.select(HiringTeamMember.user).where(
        HiringTeamMember.position == position_id
    )
    return list(
        User.select()
        .where(User.active & User.role.in_(MAY_JOIN) & User.id.not_in(on_team))
        .order_by(User.name, User.email)
    )


def _joinable(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None or not user.active:
        raise NotFound(f"no active staff member with id {user_id}")
    if Role(user.role) not in MAY_JOIN:
        raise ApplianceError("compliance officers audit interviews; they are not on hiring teams")
    return user


def add_member(audit: AuditLog, actor: str, position_id: int, user_id: int) -> None:
    position = get_position(position_id)
    user = _joinable(user_id)
    with audit.db.atomic():
        if (
            not HiringTeamMember.select()
            .where((HiringTeamMember.position == position) & (HiringTeamMember.user == user))
            .exists()
        ):
            HiringTeamMember.create(position=position, user=user)
            audit.record(
                actor, "position.team.add", f"position:{position.id}", {"user": user.email}
            )


def set_manager(audit: AuditLog, actor: str, position_id: int, user_id: int | None) -> None:
    """Make `user_id` the position's hiring manager (None: nobody); they join the hiring team
    if they are not on it, so they may review what they decide on."""
    position = get_position(position_id)
    with audit.db.atomic():
        if user_id is None:
            if position.hiring_manager_id is not None:
                position.hiring_manager = None
                position.save()
                audit.record(actor, "position.manager.clear", f"position:{position.id}")
            return
        user = _joinable(user_id)
        add_member(audit, actor, position.id, user.id)
        if position.hiring_manager_id != user.id:
            position.hiring_manager = user
            position.save()
            audit.record(
                actor, "position.manager.set", f"position:{position.id}", {"user": user.email}
            )


def remove_member(audit: AuditLog, actor: str, position_id: int, user_id: int) -> None:
    position = get_position(position_id)
    with audit.db.atomic():
        removed = (
            HiringTeamMember.delete()
            .where((HiringTeamMember.position == position) & (HiringTeamMember.user == user_id))
            .execute()
        )
        if removed:
            if position.hiring_manager_id == user_id:
                position.hiring_manager = None
                position.save()
                audit.record(actor, "position.manager.clear", f"position:{position.id}")
            user = User.get_by_id(user_id)
            audit.record(
                actor, "position.team.remove", f"position:{position.id}", {"user": user.email}
            )
