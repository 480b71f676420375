"""What the payouts routes share: who may see a group, now on the service clock, what each error
status means. A group is visible only to its members as onboarding activated it: to anyone else it
does not exist (404, never 403, so group ids do not leak)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.onboarding import GroupActivated
from services.payouts.store import groups
from services.runtime import errors
from services.runtime.errors import ApiError
from services.runtime.member_auth import Caller
from services.runtime.service import ServiceRuntime

_MEANING = {
    403: "The caller is a member of the group but not its admin.",
    404: "No such group of the caller's (a group the caller is not a member of is not found either), "
    "or no payout of that cycle in it.",
    409: "The payout is not waiting (it is being transferred or paid): nothing to retry.",
    503: "Tokens cannot be verified now, the operator token is not configured, or the service "
    "clock is not started yet.",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return errors.documented_errors(*statuses, meanings=_MEANING)


async def group_of_member(session: AsyncSession, group_id: UUID, caller: Caller) -> GroupActivated:
    activation = await groups.activation(session, group_id)
    if activation is None or caller.member_id not in {m.member_id for m in activation.members}:
        raise ApiError(404, "group_not_found", f"no group {group_id} of yours")
    return activation


def service_now(runtime: ServiceRuntime) -> datetime:
    try:
        return runtime.clock.now()
    except RuntimeError:
        raise ApiError(503, "clock_unavailable", "the service clock is not started yet") from None
