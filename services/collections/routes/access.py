"""What every collections route shares: who may see a group, "now" on the service clock, and what
each error status means.

A group is visible only to its members, as ``onboarding.evt.group_activated`` listed them: to
anyone else it does not exist (404, never 403, so group ids do not leak).
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.onboarding import GroupActivated
from services.collections.store.queries import activation_of
from services.runtime import errors
from services.runtime.errors import ApiError
from services.runtime.member_auth import Caller
from services.runtime.service import ServiceRuntime

_MEANING = {
    404: "No such group of the caller's (a group the caller is not a member of is not found either), "
    "or no such cycle in it.",
    503: "Tokens cannot be verified now, the operator token is not configured, or the service "
    "clock is not started yet.",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a router's routes give, for its OpenAPI document."""
    return errors.documented_errors(*statuses, meanings=_MEANING)


async def group_of_member(session: AsyncSession, group_id: UUID, caller: Caller) -> GroupActivated:
    """The group's activation, if the caller is one of its members; otherwise not found."""
    activation = await activation_of(session, group_id)
    if activation is None or caller.member_id not in {m.member_id for m in activation.members}:
        raise ApiError(404, "group_not_found", f"no group {group_id} of yours")
    return activation


def service_now(runtime: ServiceRuntime) -> datetime:
    """Now on the service clock (the simulated one in development), or 503 before it has started."""
    try:
        return runtime.clock.now()
    except RuntimeError:
        raise ApiError(503, "clock_unavailable", "the service clock is not started yet") from None
