"""The onboarding service's calls to Stripe, through the official SDK, and what it keeps of the answers.

The client (its settings, the shared request budget, error translation) is the runtime's
(``services.runtime.stripe_client``); this file holds only onboarding's calls. Every write carries
an idempotency key derived from what it is for (``onboarding:customer:<member>`` and so on), so a
retried request, ours or the SDK's, never makes a second customer, SetupIntent or account.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from services.onboarding.domain.members import PayoutAccount, SetupIntentStatus
from services.runtime import stripe_client
from services.runtime.stripe_client import fingerprint, stripe_errors_translated

BECS = "au_becs_debit"


@dataclass(frozen=True)
class SetupIntentView:
    setup_intent_id: str
    status: SetupIntentStatus
    created: datetime
    client_secret: str | None = None
    payment_method_id: str | None = None
    mandate_id: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True)
class BankAccount:
    bsb_number: str
    account_number: str
    holder_name: str
    email: str

    @property
    def last4(self) -> str:
        return self.account_number[-4:]


@dataclass(frozen=True)
class MandateAcceptance:
    """The member's online acceptance of the Direct Debit Request: Stripe keeps it as evidence."""

    ip_address: str
    user_agent: str


@dataclass(frozen=True)
class OnboardingLink:
    url: str
    expires_at: datetime


def idempotency_key(*parts: str) -> str:
    return stripe_client.idempotency_key("onboarding", *parts)


class StripeApi:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def create_customer(self, member_id: str, email: str, name: str) -> str:
        with stripe_errors_translated():
            customer = await self._client.v1.customers.create_async(
                {"email": email, "name": name, "metadata": {"member_id": member_id}},
                {"idempotency_key": idempotency_key("customer", member_id)},
            )
        return customer.id

    async def update_customer(self, customer_id: str, email: str, name: str, update_number: int) -> None:
        with stripe_errors_translated():
            await self._client.v1.customers.update_async(
                customer_id,
                {"email": email, "name": name},
                {"idempotency_key": idempotency_key("customer-update", customer_id, str(update_number))},
            )

    async def start_setup(self, customer_id: str, member_id: str, key: str) -> SetupIntentView:
        with stripe_errors_translated():
            intent = await self._client.v1.setup_intents.create_async(
                {
                    "customer": customer_id,
                    "allowed_payment_method_types": [BECS],
                    "usage": "off_session",
                    "metadata": {"member_id": member_id},
                },
                {"idempotency_key": key},
            )
        return setup_intent_view(intent.to_dict())

    async def retrieve_setup(self, setup_intent_id: str) -> SetupIntentView:
        with stripe_errors_translated():
            intent = await self._client.v1.setup_intents.retrieve_async(setup_intent_id)
        return setup_intent_view(intent.to_dict())

    async def confirm_setup(
        self, setup_intent_id: str, bank: BankAccount, acceptance: MandateAcceptance
    ) -> SetupIntentView:
        # The same details confirm once; other details (after a refusal) make a new request.
        request = {
            "bsb": bank.bsb_number,
            "account": bank.account_number,
            "name": bank.holder_name,
            "email": bank.email,
            "ip": acceptance.ip_address,
            "agent": acceptance.user_agent,
        }
        with stripe_errors_translated():
            intent = await self._client.v1.setup_intents.confirm_async(
                setup_intent_id,
                {
                    "payment_method_data": {
                        "type": BECS,
                        "au_becs_debit": {
                            "bsb_number": bank.bsb_number,
                            "account_number": bank.account_number,
                        },
                        "billing_details": {"name": bank.holder_name, "email": bank.email},
                    },
                    "mandate_data": {
                        "customer_acceptance": {
                            "type": "online",
                            "online": {
                                "ip_address": acceptance.ip_address,
                                "user_agent": acceptance.user_agent,
                            },
                        }
                    },
                },
                {"idempotency_key": idempotency_key("setup-confirm", setup_intent_id, fingerprint(request))},
            )
        return setup_intent_view(intent.to_dict())

    async def create_payout_account(self, member_id: str, email: str) -> PayoutAccount:
        with stripe_errors_translated():
            account = await self._client.v1.accounts.create_async(
                {
                    "country": "AU",
                    "email": email,
                    "controller": {
                        "stripe_dashboard": {"type": "express"},
                        "fees": {"payer": "application"},
                        "losses": {"payments": "application"},
                        "requirement_collection": "stripe",
                    },
                    # Members only receive: transfers of their pot, paid out to their bank.
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"member_id": member_id},
                },
                {"idempotency_key": idempotency_key("payout-account", member_id)},
            )
        return payout_account_of(account.to_dict())

    async def retrieve_payout_account(self, account_id: str) -> PayoutAccount:
        with stripe_errors_translated():
            account = await self._client.v1.accounts.retrieve_async(account_id)
        return payout_account_of(account.to_dict())

    async def onboarding_link(
        self, account_id: str, *, key: str, refresh_url: str, return_url: str
    ) -> OnboardingLink:
        with stripe_errors_translated():
            link = await self._client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                },
                {"idempotency_key": key},
            )
        return OnboardingLink(link.url, datetime.fromtimestamp(link.expires_at, UTC))


def setup_intent_view(intent: Mapping[str, Any]) -> SetupIntentView:
    error = intent.get("last_setup_error") or {}
    return SetupIntentView(
        setup_intent_id=str(intent["id"]),
        status=SetupIntentStatus(intent["status"]),
        created=datetime.fromtimestamp(int(intent["created"]), UTC),
        client_secret=intent.get("client_secret"),
        payment_method_id=_id_of(intent.get("payment_method")),
        mandate_id=_id_of(intent.get("mandate")),
        failure_code=error.get("code") if isinstance(error, Mapping) else None,
    )


def payout_account_of(account: Mapping[str, Any]) -> PayoutAccount:
    """What readiness needs of a Stripe account object (as returned, or as an event's snapshot)."""
    requirements = account.get("requirements") or {}
    due = {*requirements.get("currently_due", []), *requirements.get("past_due", [])}
    capabilities = account.get("capabilities") or {}
    return PayoutAccount(
        account_id=str(account["id"]),
        details_submitted=bool(account.get("details_submitted")),
        payouts_enabled=bool(account.get("payouts_enabled")),
        transfers_capability=capabilities.get("transfers"),
        requirements_due=tuple(sorted(due)),
        disabled_reason=requirements.get("disabled_reason"),
    )


def _id_of(value: object) -> str | None:
    """An id-valued field, whether Stripe sent the id or (expanded) the object."""
    if isinstance(value, Mapping):
        return str(value["id"])
    return value if isinstance(value, str) else None
