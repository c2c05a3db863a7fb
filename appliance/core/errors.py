"""The one error type the domain layer raises for a person to read and act on."""


class ApplianceError(Exception):
    """Something the operator or user can fix: the message says what was wrong and what to do.

    The CLI prints it as one line and exits non-zero; the web layer maps it to a 4xx answer.
    """


class Invalid(ApplianceError):
    """A value breaks a rule the API's schema states (a length, a choice, a format): the
    request is malformed (400). Other refusals of a well-formed request are 422."""


class NotFound(ApplianceError):
    """A named object does not exist (or is not visible to the caller)."""


class NotAllowed(ApplianceError):
    """The caller may not do this (a scorecard for an interview they were not on)."""


class Conflict(ApplianceError):
    """The request contradicts what is stored (a duplicate e-mail, a used token)."""


class Gone(ApplianceError):
    """It existed and was removed for good (an erased candidate's data)."""


class Damaged(ApplianceError):
    """Stored data failed its integrity check: the box cannot serve it; restore from a backup."""
