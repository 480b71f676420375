"""Why the rotation refuses an admin's decision (the admin API answers these with a 4xx)."""


class DecisionRefusedError(Exception):
    """The decision changes nothing and is not recorded; the message says why."""

    kind = "decision_refused"


class NotGroupAdminError(DecisionRefusedError):
    """Only the group's admin decides for the group."""

    kind = "not_group_admin"


class DecisionNotExpectedError(DecisionRefusedError):
    """The rotation is not waiting for this decision (wrong state, or another cycle)."""

    kind = "decision_not_expected"


class InvalidDecisionError(DecisionRefusedError):
    """The decision names something it cannot (a date in the past, a member who did not default)."""

    kind = "invalid_decision"
