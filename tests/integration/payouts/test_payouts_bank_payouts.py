"""The recipient's bank payouts: Stripe paying the transferred pot from their connected account to
their bank. A failed one (the bank refused it) is tracked, the recipient told to fix their bank
details, and followed until a later payout is paid."""

from datetime import timedelta

import pytest

from contracts import subjects
from contracts.payouts import PayCycle
from tests.integration.collections.support import eventually
from tests.integration.payouts.support import PayoutsWiring, pay_cycle, recipient_account
from tests.integration.stripe_sim.connect_fixtures import RETURN_URL, onboarding_link, visit
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator

pytestmark = pytest.mark.integration

NO_ACCOUNT = "111111116"  # Stripe's test bank account whose payouts fail with no_account
PAYOUT_EVENTS = ("payout.created", "payout.updated", "payout.paid", "payout.failed")
FIVE_SECONDS = 5


async def test_a_failed_bank_payout_is_tracked_and_the_recipient_told_until_a_payout_is_paid(
    stack: PayoutsWiring,
) -> None:
    account = recipient_account(stack.sim, NO_ACCOUNT)
    command = pay_cycle(stack.sim, account, 2)
    member = command.recipient_member_id
    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    await eventually(lambda: _paid(stack, command), "the pot is transferred")

    first = _pay_out_balance(stack.sim, account)
    await _deliver_payout_events(stack, account)
    await eventually(lambda: _noticed(stack, member), "the recipient is told")
    failed_view = await stack.api("GET", "/members/me/pots", member=member)
    assert visit(onboarding_link(stack.sim.client(), account).url, "000123456") == RETURN_URL
    second = _pay_out_balance(stack.sim, account)
    await _deliver_payout_events(stack, account)

    async def paid_to_the_bank() -> bool:
        pots = await stack.api("GET", "/members/me/pots", member=member)
        carried = pots["received"][0]["transfers"][0]["bank_payouts"]
        return [b["status"] for b in carried] == ["failed", "paid"]

    await eventually(paid_to_the_bank, "the next bank payout is paid")

    (notice,) = [n for n in await stack.notices(member) if n["kind"] == "bank_payout_failed"]
    assert notice["action"] == "POST /onboarding/members/me/payout-account/onboarding-link"
    transfers = failed_view["received"][0]["transfers"]
    assert [
        [(b["payout_id"], b["status"], b["failure_code"]) for b in t["bank_payouts"]] for t in transfers
    ] == [[(first, "failed", "no_account")]] * 2
    pots = await stack.api("GET", "/members/me/pots", member=member)
    assert [b["payout_id"] for b in pots["received"][0]["transfers"][1]["bank_payouts"]] == [first, second]


def _pay_out_balance(sim: RunningSimulator, account: str) -> str:
    """What Stripe does on the account's payout schedule: pay its available balance to its bank."""
    client = sim.client()
    sim.advance(timedelta(seconds=FIVE_SECONDS))
    balance = client.v1.balance.retrieve({}, {"stripe_account": account})
    available = balance.available[0].amount
    assert available > 0
    payout = client.v1.payouts.create({"amount": available, "currency": "aud"}, {"stripe_account": account})
    sim.advance(timedelta(seconds=FIVE_SECONDS))
    return payout.id


async def _deliver_payout_events(stack: PayoutsWiring, account: str) -> None:
    for event_type in PAYOUT_EVENTS:
        await stack.deliver_account_events(account, event_type)


async def _paid(stack: PayoutsWiring, command: PayCycle) -> bool:
    return await stack.status(command.cycle_id) == "paid"


async def _noticed(stack: PayoutsWiring, member: str) -> bool:
    return any(n["kind"] == "bank_payout_failed" for n in await stack.notices(member))
