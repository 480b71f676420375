"""What the payouts tests share: the service against the Stripe simulator, cycles whose debits really
succeeded on it (charges a transfer can take its funds from), recipients with real Express accounts,
and ways to publish to the service and look into it.

No collections, onboarding, scheduler or gateway runs: a test publishes collections' and onboarding's
messages, Stripe's events (through the gateway's own normalization) and due timers' payloads itself,
so it chooses what arrives when.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from contracts import subjects
from contracts.payouts import PayCycle, PayCycleCharge
from contracts.streams import NOTIFY, PAYOUTS, SCHEDULER
from rosca.stack.ports import free_port
from services.payouts.settings import PayoutsSettings
from services.payouts.store.tables import payout_transfers, payouts
from services.runtime.member_tokens import MemberTokenSettings, mint_token
from services.webhooks.normalize import normalize
from tests.integration.collections.support import Wiring
from tests.integration.stripe_sim.becs_fixtures import contribution, saved_becs_customer
from tests.integration.stripe_sim.connect_fixtures import onboarded_account
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator

JWT_SECRET = "payouts-tests-jwt-secret-0123456789abcdef"
JWT_AUDIENCE = "rosca"
OPERATOR_TOKEN = "payouts-operator-token-0123456789"
CONTRIBUTION = 5_000
FEE = 50  # the platform's share of each debit (100 bps)
SETTLE = timedelta(seconds=2)


def payouts_settings(
    database_url: str, nats_url: str, namespace: str, sim: RunningSimulator, **overrides: Any
) -> PayoutsSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "namespace": namespace,
        "http_port": free_port(),
        "stripe_api_key": API_KEY,
        "stripe_api_base_url": sim.base_url,
        "stripe_requests_per_second": 200.0,
        "consumer_backoff_seconds": (0.2,),
        "consumer_max_deliver": 50,
        "jwt_hs256_secret": JWT_SECRET,
        "jwt_audience": JWT_AUDIENCE,
        "operator_token": OPERATOR_TOKEN,
        **overrides,
    }
    return PayoutsSettings.model_validate(values)


def succeeded_charges(sim: RunningSimulator, count: int) -> list[tuple[str, str]]:
    """``count`` BECS debits that succeeded on the simulator: (payment intent, charge) each."""
    client = sim.client()
    intents = []
    for _ in range(count):
        customer, setup = saved_becs_customer(client)
        intents.append(contribution(client, customer, str(setup.payment_method), amount=CONTRIBUTION))
    sim.advance(SETTLE)
    found = []
    for intent in intents:
        settled = client.v1.payment_intents.retrieve(intent.id)
        assert settled.status == "succeeded", settled.status
        found.append((settled.id, str(settled.latest_charge)))
    return found


def recipient_account(sim: RunningSimulator, bank_account_number: str = "000123456") -> str:
    return onboarded_account(sim.client(), bank_account_number).id


def pay_cycle(
    sim: RunningSimulator,
    account_id: str,
    members: int,
    *,
    recipient: str | None = None,
    group_id: UUID | None = None,
) -> PayCycle:
    """Collections' command for a cycle of ``members`` debits that succeeded, paid to ``account_id``."""
    cycle_id, group = uuid.uuid4(), group_id or uuid.uuid4()
    charges = [
        PayCycleCharge(
            contribution_id=uuid.uuid4(),
            member_id=f"payer-{n}",
            payment_intent_id=intent,
            charge_id=charge,
            amount=CONTRIBUTION,
            platform_fee=FEE,
            transfer_amount=CONTRIBUTION - FEE,
        )
        for n, (intent, charge) in enumerate(succeeded_charges(sim, members), start=1)
    ]
    return PayCycle(
        occurred_at=datetime.now(UTC),
        correlation_id=str(cycle_id),
        group_id=group,
        cycle_id=cycle_id,
        cycle_number=1,
        recipient_member_id=recipient or f"recipient-{uuid.uuid4().hex[:8]}",
        connected_account_id=account_id,
        currency="aud",
        transfer_group=f"cycle_{cycle_id}",
        transfer_total=sum(c.transfer_amount for c in charges),
        platform_fee_total=sum(c.platform_fee for c in charges),
        charges=charges,
    )


@dataclass
class PayoutsWiring(Wiring):
    """A payouts service and what a test needs to feed it and look into it."""

    base_url: str = ""

    async def payout(self, cycle_id: UUID) -> dict[str, Any] | None:
        async with self.database.transaction() as session:
            row = (await session.execute(select(payouts).where(payouts.c.cycle_id == cycle_id))).first()
        return dict(row._mapping) if row is not None else None

    async def transfer_rows(self, cycle_id: UUID) -> list[dict[str, Any]]:
        async with self.database.transaction() as session:
            rows = await session.execute(
                select(payout_transfers).where(payout_transfers.c.cycle_id == cycle_id)
            )
            return [dict(row._mapping) for row in rows]

    async def status(self, cycle_id: UUID) -> str | None:
        found = await self.payout(cycle_id)
        return found["status"] if found else None

    def transfers_at_stripe(self, cycle_id: UUID) -> list[dict[str, Any]]:
        """The simulator's transfers of the cycle, read from its store."""
        held = self.sim.app.sim.objects.newest_first("transfer", None)
        return [dict(t.body) for t in held if t.body.get("transfer_group") == f"cycle_{cycle_id}"]

    async def facts(self, subject: str, cycle_id: UUID) -> list[dict[str, Any]]:
        return [f for f in await self.published(PAYOUTS.name, subject) if f["cycle_id"] == str(cycle_id)]

    async def notices(self, member_id: str) -> list[dict[str, Any]]:
        return [n for n in await self.published(NOTIFY.name) if n["member_id"] == member_id]

    async def timers_for(self, subject: str) -> list[dict[str, Any]]:
        schedules = await self.published(SCHEDULER.name, subjects.SCHEDULER_SCHEDULE)
        return [s for s in schedules if s["target_subject"] == subject]

    async def deliver_account_events(self, account_id: str, event_type: str) -> int:
        """The simulator's events of ``event_type`` on connected account ``account_id``, published
        as the gateway would from the Connect endpoint."""
        held = self.sim.app.sim.objects.newest_first("event", account_id)
        events = [dict(e.body) for e in reversed(list(held)) if e.body["type"] == event_type]
        for event in events:
            await self.publish(subjects.stripe_event(event_type), normalize(event))
        return len(events)

    def token(self, member_id: str) -> str:
        settings = MemberTokenSettings(jwt_hs256_secret=SecretStr(JWT_SECRET), jwt_audience=JWT_AUDIENCE)
        return mint_token(settings, member_id, lifetime=timedelta(hours=1), issued_at=datetime.now(UTC))

    async def api(
        self, method: str, path: str, *, member: str | None = None, operator: bool = False, expect: int = 200
    ) -> Any:
        token = OPERATOR_TOKEN if operator else self.token(member) if member else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            answer = await http.request(method, f"/payouts{path}", headers=headers)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()
