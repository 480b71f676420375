"""A funded cycle's pot paid to its recipient: one transfer per charge, to the right account, with
the right amounts and keys, exactly once however often collections asks."""

import pytest

from contracts import subjects
from services.runtime.naming import Namespace
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
    await eventually(stack.outbox_empty, "every fact published")
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


async def test_stripe_failing_for_a_while_is_retried_with_back_off_and_never_doubles_a_transfer(
    stack: PayoutsWiring,
) -> None:
    account = recipient_account(stack.sim)
    command = pay_cycle(stack.sim, account, 3)
    # Stripe answers 500 (without running the request) and then drops connections after running it:
    # the service cannot tell whether a transfer was made, and asks again with the same key.
    stack.sim.faults(server_error_percent=100)
    try:
        await stack.publish(subjects.PAYOUTS_PAY_CYCLE, command)
        await eventually(lambda: _failed_deliveries(stack), "Stripe's failures are retried")
        stack.sim.faults(server_error_percent=0, dropped_connection_percent=50)
        await eventually(lambda: _paid(stack, command.cycle_id), "the payout is paid", timeout=60)
        await eventually(stack.outbox_empty, "every fact published")
    finally:
        stack.sim.faults(server_error_percent=0, dropped_connection_percent=0)

    transfers = stack.transfers_at_stripe(command.cycle_id)
    assert sorted(t["source_transaction"] for t in transfers) == sorted(c.charge_id for c in command.charges)
    assert len(await stack.facts(subjects.PAYOUTS_CYCLE_PAID, command.cycle_id)) == 1
    assert await stack.published("DEADLETTER") == []


async def _failed_deliveries(stack: PayoutsWiring) -> bool:
    names = Namespace(stack.namespace)
    info = await stack.js.consumer_info(names.stream("PAYOUTS"), names.durable("payouts-make-transfers"))
    return bool(info.num_redelivered)
