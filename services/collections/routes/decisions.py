"""HTTP edge for the group admin's decisions: after a round cancelled at its deadline, run it again,
remove the members who defaulted, or dissolve the group; and writing off a member's debt.

Each call is one decision of the rotation saga (``service_layer.rotation_decisions``): only the
group's admin may make it, only while the rotation waits for it, and the same decision sent again
(a retried request) changes nothing and answers the same.
"""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field

from services.collections.domain import rotation_errors
from services.collections.domain.rotation_state import RotationState, RotationStatus
from services.collections.routes.access import documented_errors, group_of_member, service_now
from services.collections.service_layer import rotation_decisions
from services.collections.service_layer.rotation_steps import UnknownRotationError
from services.runtime import errors
from services.runtime.member_auth import CallerDep
from services.runtime.service import RuntimeDep

router = APIRouter(
    prefix="/groups", tags=["decisions"], responses=documented_errors(401, 403, 404, 409, 422, 503)
)

GroupId = Annotated[UUID, Path(description="The group's id.")]

# Unknown fields are refused by name. Not strict mode: FastAPI hands over parsed JSON, where a UUID
# or a date is still text.
_STRICT = ConfigDict(extra="forbid")


class RetryRoundRequest(BaseModel):
    model_config = _STRICT
    decision: Literal["retry_round"]
    cycle_id: UUID = Field(description="The cancelled cycle whose round runs again, same recipient.")
    start_on: date | None = Field(
        default=None,
        description="YYYY-MM-DD, not in the past; moved to a BECS business day. Default: the next one.",
    )


class RemoveMembersRequest(BaseModel):
    model_config = _STRICT
    decision: Literal["remove_members"]
    cycle_id: UUID = Field(description="The cancelled cycle the members defaulted in.")
    member_ids: list[str] = Field(min_length=1, description="Members who defaulted in that cycle.")
    start_on: date | None = Field(
        default=None, description="When the rotation goes on (YYYY-MM-DD). Default: next business day."
    )


class DissolveRequest(BaseModel):
    model_config = _STRICT
    decision: Literal["dissolve"]
    cycle_id: UUID = Field(description="The cancelled cycle the rotation waits on.")


Decision = Annotated[
    RetryRoundRequest | RemoveMembersRequest | DissolveRequest, Field(discriminator="decision")
]


class RotationAnswer(BaseModel):
    group_id: UUID
    status: RotationStatus = Field(description="running, awaiting_admin_decision, completed or dissolved.")
    member_ids: list[str] = Field(description="Members still in the rotation, in payout order.")
    removed_member_ids: list[str] = Field(description="Members the admin removed.")

    @classmethod
    def of(cls, state: RotationState) -> "RotationAnswer":
        return cls(
            group_id=state.group_id,
            status=state.status,
            member_ids=list(state.member_ids),
            removed_member_ids=list(state.removed_member_ids),
        )


@router.post(
    "/{group_id}/decisions",
    summary="The admin's decision after a round was cancelled: retry it, remove defaulters, or dissolve",
    response_model=RotationAnswer,
)
async def decide(
    group_id: GroupId, decision: Annotated[Decision, Body()], caller: CallerDep, runtime: RuntimeDep
) -> RotationAnswer:
    now = service_now(runtime)
    async with runtime.database.transaction() as session:
        await group_of_member(session, group_id, caller)
        match decision:
            case RetryRoundRequest():
                state = await rotation_decisions.retry_round(
                    session,
                    group_id,
                    decision.cycle_id,
                    decided_by=caller.member_id,
                    now=now,
                    start_on=decision.start_on,
                )
            case RemoveMembersRequest():
                state = await rotation_decisions.remove_members(
                    session,
                    group_id,
                    decision.cycle_id,
                    tuple(decision.member_ids),
                    decided_by=caller.member_id,
                    now=now,
                    start_on=decision.start_on,
                )
            case DissolveRequest():
                state = await rotation_decisions.dissolve(
                    session, group_id, decision.cycle_id, decided_by=caller.member_id, now=now
                )
    return RotationAnswer.of(state)


@router.post(
    "/{group_id}/members/{member_id}/write-off",
    summary="The admin writes off every debt a member still owes the group after disputes",
    response_model=RotationAnswer,
)
async def write_off(
    group_id: GroupId,
    member_id: Annotated[str, Path(min_length=1, max_length=200, description="The member who owes.")],
    caller: CallerDep,
    runtime: RuntimeDep,
) -> RotationAnswer:
    now = service_now(runtime)
    async with runtime.database.transaction() as session:
        await group_of_member(session, group_id, caller)
        state = await rotation_decisions.write_off(
            session, group_id, member_id, decided_by=caller.member_id, now=now
        )
    return RotationAnswer.of(state)


def add_error_handlers(app: FastAPI) -> None:
    errors.refuse_domain_errors(
        app,
        rotation_errors.DecisionRefusedError,
        {
            rotation_errors.NotGroupAdminError: 403,
            rotation_errors.DecisionNotExpectedError: 409,
            rotation_errors.InvalidDecisionError: 422,
        },
    )
    errors.refuse_domain_errors(app, UnknownRotationError, {UnknownRotationError: 404})
