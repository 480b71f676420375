"""HTTP edge for members: register, profile and readiness, BECS setup, the payout account.

Every route acts on the caller alone (``/members/me``): a member's id comes from their token,
never from the path, so no request can reach another member's record.
"""

import ipaddress
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, IPvAnyAddress, StringConstraints, ValidationError, model_validator

from services.onboarding import becs, members, payout_accounts
from services.onboarding.api import documented_errors
from services.onboarding.deps import CallerDep, OnboardingDep
from services.onboarding.member_store import MemberRecord, MemberStore, SetupIntentRecord
from services.onboarding.stripe import MandateAcceptance
from services.runtime.service import RuntimeDep

router = APIRouter(
    prefix="/members", tags=["members"], responses=documented_errors(400, 401, 404, 409, 422, 502, 503)
)

# No control characters anywhere: they have no business in a name, and Postgres refuses NUL.
PlainText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
    ),
]


class Registration(BaseModel):
    email: Email | None = Field(
        default=None, description="Contact e-mail; default: the token's `email` claim."
    )
    display_name: PlainText | None = Field(
        default=None, description="The name other members see; default: the token's `name` claim."
    )


class Profile(BaseModel):
    email: Email = Field(description="Contact e-mail.")
    display_name: PlainText = Field(description="The name other members see.")


class ProfileChange(BaseModel):
    email: Email | None = Field(default=None, description="New contact e-mail (also the Stripe customer's).")
    display_name: PlainText | None = Field(default=None, description="New display name.")

    @model_validator(mode="after")
    def _something_changes(self) -> "ProfileChange":
        if self.email is None and self.display_name is None:
            raise ValueError("give email or display_name")
        return self


class SetupIntentView(BaseModel):
    setup_intent_id: str = Field(description="The SetupIntent (seti_…).")
    status: str = Field(description="Stripe's status: requires_payment_method, succeeded, …")
    last_error_code: str | None = Field(description="Why the last attempt failed, if it did.")


class BecsView(BaseModel):
    payment_method_id: str | None = Field(description="The BECS payment method in use (pm_…).")
    mandate_id: str | None = Field(description="Its mandate.")
    mandate_status: Literal["pending", "active", "inactive"] | None = Field(description="Debits need active.")
    bank_last4: str | None = Field(
        description="Last four digits of the account, when given through this API."
    )
    latest_setup_intent: SetupIntentView | None = Field(description="The most recent SetupIntent.")


class PayoutAccountView(BaseModel):
    status: Literal["none", "onboarding_required", "ready", "restricted"] = Field(
        description="ready: can receive transfers."
    )
    account_id: str | None = Field(description="The Express account (acct_…).")
    requirements_due: list[str] = Field(description="What Stripe still asks for.")
    disabled_reason: str | None = Field(description="Stripe's requirements.disabled_reason.")


class ReadinessView(BaseModel):
    ready: bool = Field(description="True when the member can take part in a circle.")
    missing: list[str] = Field(
        description="What is missing: stripe_customer, becs_mandate, becs_mandate_inactive, payout_account, "
        "payout_account_onboarding, payout_account_restricted."
    )


class MemberView(BaseModel):
    member_id: str = Field(description="The token's sub.")
    email: str
    display_name: str
    registered_at: datetime
    stripe_customer_id: str | None = Field(description="The member's Stripe customer (cus_…).")
    becs: BecsView
    payout_account: PayoutAccountView
    readiness: ReadinessView


class SetupIntentStarted(BaseModel):
    setup_intent_id: str = Field(description="The SetupIntent (seti_…).")
    client_secret: str | None = Field(description="For Stripe.js: confirmAuBecsDebitSetup(client_secret, …).")
    status: str = Field(description="Stripe's status, requires_payment_method until confirmed.")


class BankDetails(BaseModel):
    bsb_number: str = Field(pattern=r"^\d{6}$", description="Six-digit BSB (test accounts: 000000).")
    account_number: str = Field(pattern=r"^\d{5,9}$", description="Five to nine digits (e.g. 000123456).")
    account_holder_name: PlainText = Field(description="Name on the bank account.")
    mandate_accepted: Literal[True] = Field(
        description="The member read and accepted the Direct Debit Request service agreement."
    )
    ip_address: IPvAnyAddress | None = Field(
        default=None, description="Where the member accepted it; default: the request's client address."
    )
    user_agent: PlainText | None = Field(
        default=None, description="The member's browser; default: this request's User-Agent."
    )


class OnboardingLinkView(BaseModel):
    account_id: str = Field(description="The member's Express account (acct_…).")
    url: str = Field(description="Send the member's browser here; single use.")
    expires_at: datetime = Field(description="The link stops working after this (about 5 minutes).")


@router.post(
    "",
    summary="Register the caller (idempotent on the token's sub): 201 when new, 200 when known",
    status_code=201,
    response_model=MemberView,
    responses={200: {"model": MemberView, "description": "Registered before: the member, unchanged."}},
)
async def register(
    registration: Registration,
    caller: CallerDep,
    runtime: RuntimeDep,
    onboarding: OnboardingDep,
    response: Response,
) -> MemberView:
    try:
        # What the body leaves out comes from the token's claims, checked as strictly.
        profile = Profile.model_validate(
            {
                "email": registration.email or caller.email,
                "display_name": registration.display_name or caller.name,
            }
        )
    except ValidationError as invalid:
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in invalid.errors()]
        ) from None
    email, display_name = profile.email, profile.display_name
    record, created = await members.register(
        runtime.database,
        onboarding.stripe,
        runtime.clock,
        member_id=caller.member_id,
        email=email,
        display_name=display_name,
    )
    response.status_code = 201 if created else 200
    return await _member_view(runtime, record)


@router.get("/me", summary="The caller's profile, BECS mandate, payout account and readiness")
async def read_me(caller: CallerDep, runtime: RuntimeDep) -> MemberView:
    return await _member_view(runtime, await members.read_member(runtime.database, caller.member_id))


@router.patch("/me", summary="Change the caller's e-mail or display name")
async def change_me(
    change: ProfileChange, caller: CallerDep, runtime: RuntimeDep, onboarding: OnboardingDep
) -> MemberView:
    record = await members.update_profile(
        runtime.database,
        onboarding.stripe,
        member_id=caller.member_id,
        email=change.email,
        display_name=change.display_name,
    )
    return await _member_view(runtime, record)


@router.get("/me/readiness", summary="Whether the caller can take part in a circle, and what is missing")
async def read_readiness(caller: CallerDep, runtime: RuntimeDep) -> ReadinessView:
    record = await members.read_member(runtime.database, caller.member_id)
    return ReadinessView(ready=record.state.ready, missing=[gap.value for gap in record.state.missing])


@router.post(
    "/me/becs/setup-intents",
    summary="Start saving a bank account for BECS debits: a SetupIntent and its client secret",
    description="Asked again before the SetupIntent is confirmed, the same one comes back.",
)
async def start_becs_setup(
    caller: CallerDep, runtime: RuntimeDep, onboarding: OnboardingDep
) -> SetupIntentStarted:
    view = await becs.start_setup(runtime.database, onboarding.stripe, runtime.clock, caller.member_id)
    return SetupIntentStarted(
        setup_intent_id=view.setup_intent_id, client_secret=view.client_secret, status=view.status.value
    )


@router.post(
    "/me/becs/setup-intents/{setup_intent_id}/confirm",
    summary="Confirm a SetupIntent here with bank details and the member's mandate acceptance",
    description="For trusted clients and the demo; a browser frontend confirms with Stripe.js instead. "
    "Readiness follows at once; Stripe's setup_intent.succeeded later changes nothing.",
)
async def confirm_becs_setup(
    setup_intent_id: Annotated[str, Path(pattern=r"^seti_[A-Za-z0-9_]{1,100}$")],
    details: BankDetails,
    *,
    request: Request,
    caller: CallerDep,
    runtime: RuntimeDep,
    onboarding: OnboardingDep,
) -> MemberView:
    await becs.confirm_setup(
        runtime.database,
        onboarding.stripe,
        runtime.clock,
        member_id=caller.member_id,
        setup_intent_id=setup_intent_id,
        bsb_number=details.bsb_number,
        account_number=details.account_number,
        holder_name=details.account_holder_name,
        acceptance=MandateAcceptance(
            ip_address=str(details.ip_address or _client_address(request)),
            user_agent=details.user_agent or request.headers.get("user-agent") or "unknown",
        ),
    )
    return await _member_view(runtime, await members.read_member(runtime.database, caller.member_id))


@router.post(
    "/me/payout-account/onboarding-link",
    summary="A new single-use link to Stripe's payout-account form (the account is made on the first call)",
)
async def payout_onboarding_link(
    caller: CallerDep, runtime: RuntimeDep, onboarding: OnboardingDep
) -> OnboardingLinkView:
    account_id, link = await payout_accounts.onboarding_link(
        runtime.database, onboarding.stripe, onboarding.settings, runtime.clock, caller.member_id
    )
    return OnboardingLinkView(account_id=account_id, url=link.url, expires_at=link.expires_at)


async def _member_view(runtime: RuntimeDep, record: MemberRecord) -> MemberView:
    async with runtime.database.transaction() as session:
        latest = await MemberStore(session).latest_setup_intent(record.member_id)
    state = record.state
    account = state.payout_account
    return MemberView(
        member_id=record.member_id,
        email=record.email,
        display_name=record.display_name,
        registered_at=record.registered_at,
        stripe_customer_id=state.customer_id,
        becs=BecsView(
            payment_method_id=state.payment_method_id,
            mandate_id=state.mandate_id,
            mandate_status=state.mandate_status.value if state.mandate_status else None,
            bank_last4=record.bank_last4,
            latest_setup_intent=_setup_intent_view(latest),
        ),
        payout_account=PayoutAccountView(
            status=state.payout_status.value,
            account_id=account.account_id if account else None,
            requirements_due=list(account.requirements_due) if account else [],
            disabled_reason=account.disabled_reason if account else None,
        ),
        readiness=ReadinessView(ready=state.ready, missing=[gap.value for gap in state.missing]),
    )


def _setup_intent_view(record: SetupIntentRecord | None) -> SetupIntentView | None:
    if record is None:
        return None
    return SetupIntentView(
        setup_intent_id=record.setup_intent_id,
        status=record.status.value,
        last_error_code=record.last_error_code,
    )


def _client_address(request: Request) -> str:
    """The member's address as the gateway saw it: its X-Forwarded-For, else the connection's."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    for candidate in (forwarded, request.client.host if request.client else ""):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return "0.0.0.0"  # noqa: S104 - recorded as evidence only, never bound
