"""A funded cycle's pot paid to its recipient: one transfer per charge, to the right account, with
the right amounts and keys, exactly once however often collections asks."""

import pytest

from contracts import subjects
from tests.integration.collections.support import eventually
from tests.integration.payouts.support import CONTRIBUTION, FEE, PayoutsWiring, pay_cycle, recipient_account

pytestmark = pytest.mark.integration


async def test_a_funded_cycle_is_paid_to_the_recipient_one_transfer_per_charge_exactly_once(
    stack: PayoutsWiring,
) -> None:
    account = recipient_account(stack.sim)
    command = pay_cycle(stack.sim, account, 4)

    await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
    # Collections asking again (a redelivery, a new message for the same cycle) changes nothing.
    await stack.publish(
        subjects.PAYOUTS_PAY_CYCLE, command.model_copy(update={"message_id": command.cycle_id})
    )
    await eventually(lambda: _paid(stack, command.cycle_id), "the payout is paid")
    await eventually(
        lambda: stack.consumers_idle("PAYOUTS", "payouts-pay-cycle", "payouts-make-transfers"), "idle"
    )

    transfers = stack.transfers_at_stripe(command.cycle_id)
    assert sorted(t["source_transaction"] for t in transfers) == sorted(c.charge_id for c in command.charges)
    assert {(t["destination"], t["amount"], t["currency"]) for t in transfers} == {
        (account, CONTRIBUTION - FEE, "aud")
    }
    assert len(transfers) == 4
    (paid,) = await stack.facts(subjects.PAYOUTS_CYCLE_PAID, command.cycle_id)
    assert paid["transferred_amount"] == 4 * (CONTRIBUTION - FEE) == command.transfer_total
    assert {t["transfer_id"] for t in paid["transfers"]} == {t["id"] for t in transfers}
    assert {t["idempotency_key"] for t in paid["transfers"]} == {
        f"payout-{command.cycle_id}-{c.charge_id}" for c in command.charges
    }
    notices = await stack.notices(command.recipient_member_id)
    assert [n["kind"] for n in notices] == ["pot_transferred"]
    assert await stack.published("DEADLETTER") == []


async def _paid(stack: PayoutsWiring, cycle_id: object) -> bool:
    return await stack.status(cycle_id) == "paid"  # type: ignore[arg-type]
