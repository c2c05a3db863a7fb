"""The scheduling rules in force: `[scheduling]` from the configuration, with what an
administrator set on the Settings page laid over it.

The page's values live in the database rather than in settings.toml, so a change reaches the
web process (which offers slots, books and opens rooms) and the worker at once, without a
restart. The configuration file stays the default for a box nobody has tuned.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from appliance.core.config import Config, SchedulingConfig, bounds
from appliance.core.errors import Invalid
from appliance.db.models import Setting
from appliance.storage.audit import AuditLog

PREFIX = "scheduling."


class Rule(NamedTuple):
    key: str  # the [scheduling] key
    label: str  # what the Settings page calls it
    unit: str


RULES = (
    Rule("minimum_notice_hours", "Minimum notice a candidate must give when booking", "hours"),
    Rule("join_early_minutes", "The room opens this long before the start", "minutes"),
    Rule("slot_step_minutes", "Offered times start every", "minutes"),
    Rule("buffer_minutes", "Free time kept around every interview", "minutes"),
    Rule("horizon_days", "A scheduling link offers times this far ahead, and stays valid", "days"),
)
KEYS = {rule.key for rule in RULES}


def rules(config: Config) -> SchedulingConfig:
    """The rules now: read on every call (one small query), so no process holds a stale copy."""
    saved = {
        row.key.removeprefix(PREFIX): int(row.value)
        for row in Setting.select().where(Setting.key.startswith(PREFIX))
    }
    return dataclasses.replace(
        config.scheduling, **{key: value for key, value in saved.items() if key in KEYS}
    )


def set_rules(
    audit: AuditLog, actor: str, config: Config, updates: dict[str, int]
) -> dict[str, tuple[int, int]]:
    """Check every value, then store those that changed in one transaction and audit them.
    Returns key → (before, after) for each change; one out-of-range value stores nothing."""
    current = rules(config)
    changes = {}
    for rule in RULES:
        if rule.key not in updates:
            continue
        value = updates[rule.key]
        low, high = bounds("scheduling", rule.key)
        if not low <= value <= high:
            raise Invalid(f"{rule.label}: give {low} to {high} {rule.unit}, not {value}.")
        if getattr(current, rule.key) != value:
            changes[rule.key] = (getattr(current, rule.key), value)
    unknown = set(updates) - KEYS
    if unknown:
        raise Invalid(f"Not a scheduling rule: {', '.join(sorted(unknown))}.")
    if not changes:
        return {}
    with Setting._meta.database.atomic():
        for key, (_, value) in changes.items():
            Setting.insert(key=PREFIX + key, value=str(value)).on_conflict(
                conflict_target=[Setting.key], update={Setting.value: str(value)}
            ).execute()
        audit.record(
            actor,
            "settings.scheduling",
            "appliance",
            {key: {"from": before, "to": after} for key, (before, after) in changes.items()},
        )
    return changes
