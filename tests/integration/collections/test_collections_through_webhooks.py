"""The money path with Stripe's real webhooks: the simulator signs and delivers its events to the
webhook gateway, which publishes them on JetStream, where collections hears them."""

from datetime import timedelta

import pytest

from tests.integration.collections.support import Stack, assert_money_checks_pass, eventually
from tests.integration.collections.test_collections_cycle import _has_status, debits_out, started_cycle

pytestmark = pytest.mark.integration


async def test_stripes_own_webhooks_fund_a_cycle_and_ask_payouts_for_its_pot(heard_stack: Stack) -> None:
    stack = heard_stack
    plan, _ = await started_cycle(stack, members=2)
    intents = await debits_out(stack, plan.cycle_id, 2)
    # The debits settle; the simulator delivers payment_intent.succeeded (and the rest) to the gateway.
    stack.sim.advance(timedelta(seconds=3))
    await eventually(lambda: _has_status(stack, plan.cycle_id, "paying_out"), "the webhooks fund the cycle")
    (pay,) = await stack.pay_cycle_commands()
    assert {c["payment_intent_id"] for c in pay["charges"]} == {pi["id"] for pi in intents}
    await assert_money_checks_pass(stack)
