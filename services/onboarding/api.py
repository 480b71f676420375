"""How the onboarding edge answers its refusals: each domain error's status, and what each means.

The body is the runtime's one error shape (``services.runtime.errors``): ``{"error": {"type",
"message", "problems"?}}``, with the status a client can act on: 401 token, 403 not the admin,
404 not yours or not there, 409 not in this state, 422 bad input, 502/503 Stripe or token keys
unreachable.
"""

from typing import Any

from fastapi import FastAPI

from services.onboarding.domain import group_terms, payout_order
from services.onboarding.domain import groups as group_rules
from services.onboarding.domain.errors import DomainError
from services.onboarding.domain.members import (
    MemberNotRegisteredError,
    SetupIntentClosedError,
    SetupIntentNotFoundError,
)
from services.runtime import errors

_STATUS: dict[type[Exception], int] = {
    MemberNotRegisteredError: 404,
    SetupIntentNotFoundError: 404,
    SetupIntentClosedError: 409,
    group_rules.GroupNotFoundError: 404,
    group_rules.NotGroupAdminError: 403,
    group_rules.GroupFullError: 409,
    group_rules.GroupLockedError: 409,
    group_rules.AdminCannotLeaveError: 409,
    group_terms.InvalidGroupError: 422,
    payout_order.InvalidPayoutOrderError: 422,
    payout_order.SlotTakenError: 409,
    payout_order.WrongPayoutOrderMethodError: 409,
}

_MEANING = {
    403: "Only the group's admin may do this.",
    404: "Not registered yet, or no such group (or SetupIntent) of the caller's.",
    409: "Not possible in the current state (group full or started, slot taken, …); a start refused "
    "as group_not_ready_to_start lists each blocker in `problems` (e.g. `members.<member_id>`).",
    503: "Tokens cannot be verified now, or Stripe's rate is taken for longer than a request waits.",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a router's routes give, for its OpenAPI document."""
    return errors.documented_errors(*statuses, meanings=_MEANING)


def add_error_handlers(app: FastAPI) -> None:
    errors.refuse_domain_errors(app, DomainError, _STATUS, default_status=409)
