"""What can go wrong in speech recognition, each with a message an operator can act on."""

from __future__ import annotations

from appliance.core.errors import ApplianceError


class ModelError(ApplianceError):
    """A model directory is missing, unreadable, or not what its manifest says."""


class ModelMissing(ModelError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"no speech model {name!r} is installed; run 'appliance models install' "
            "(or 'appliance models import PATH' for a model you bring)"
        )


class AudioError(ApplianceError):
    """An input that cannot be decoded as audio."""
