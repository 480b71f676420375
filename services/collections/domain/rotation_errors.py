"""Why the rotation refuses an admin's decision (the admin API answers these with a 4xx)."""


class DecisionRefusedError(Exception):
    """The decision changes nothing and is not recorded; the message says why."""


class NotGroupAdminError(DecisionRefusedError):
    """Only the group's admin decides for the group."""


class DecisionNotExpectedError(DecisionRefusedError):
    """The rotation is not waiting for this decision (wrong state, or another cycle)."""


class InvalidDecisionError(DecisionRefusedError):
    """The decision names something it cannot (a date in the past, a member who did not default)."""
