"""What each BECS test bank account does to a member's readiness, and a mandate lost and replaced.

Saving a bank account never reaches the bank (on Stripe as in the simulator), so every account
makes an active mandate; what a test account does shows on the first debit. These tests debit the
member as collections would, and watch readiness follow Stripe's mandate.updated.
"""

import asyncio
import contextlib
import uuid
from datetime import timedelta

import pytest
import stripe

from contracts import subjects
from tests.integration.onboarding.support import Stack

pytestmark = pytest.mark.integration

# account number, what the bank does with a debit, whether the member stays ready afterwards
BECS_TEST_ACCOUNTS = [
    ("000123456", "succeeds", True),
    ("900123456", "succeeds, minutes later", True),
    ("111111113", "fails: account_closed, mandate inactive", False),
    ("111111116", "fails: no_account, mandate inactive", False),
    ("222222227", "fails: refer_to_customer (insufficient funds), mandate kept", True),
    ("922222227", "fails later: refer_to_customer, mandate kept", True),
    ("333333335", "fails: debit_not_authorized, mandate inactive", False),
    ("666666660", "succeeds, then is disputed", True),
    ("343434343", "refused at confirmation: weekly limit", True),
    ("121212121", "refused at confirmation: per-debit limit", True),
]


async def debit(stack: Stack, member_id: str, amount: int = 5_000) -> None:
    """One contribution, as collections makes it, then enough simulated time for any outcome."""
    me = await stack.me(member_id)
    client = stack.sim.client()
    # A refusal at confirmation (the limit accounts) raises, and leaves the mandate untouched.
    with contextlib.suppress(stripe.CardError):
        await client.v1.payment_intents.create_async(
            {
                "amount": amount,
                "currency": "aud",
                "customer": me["stripe_customer_id"],
                "payment_method": me["becs"]["payment_method_id"],
                "allowed_payment_method_types": ["au_becs_debit"],
                "confirm": True,
                "off_session": True,
                "metadata": {"member_id": member_id, "contribution_id": uuid.uuid4().hex},
            }
        )
    # Past the fast settlement and the *Delayed accounts' extra three minutes.
    await asyncio.to_thread(stack.sim.advance, timedelta(seconds=200))
    await stack.settle()


@pytest.mark.parametrize(("account_number", "outcome", "still_ready"), BECS_TEST_ACCOUNTS)
async def test_each_becs_test_account_keeps_the_member_ready_unless_its_debit_ends_the_mandate(
    stack: Stack, account_number: str, outcome: str, still_ready: bool
) -> None:
    member_id = await stack.register()
    authorised = await stack.authorise_bank_account(member_id, account_number)
    assert authorised["becs"]["mandate_status"] == "active", outcome
    await stack.onboard_payout_account(member_id)
    await stack.wait_for_readiness(member_id, ready=True)

    await debit(stack, member_id)

    me = await stack.me(member_id)
    assert me["readiness"]["ready"] is still_ready, outcome
    if still_ready:
        assert me["becs"]["mandate_status"] == "active"
        assert me["readiness"]["missing"] == []
        assert await stack.notifications(member_id) == []
    else:
        assert me["becs"]["mandate_status"] == "inactive"
        assert me["readiness"]["missing"] == ["becs_mandate_inactive"]
        [notice] = await stack.notifications(member_id)
        assert notice["kind"] == "mandate_inactive"
        assert notice["action"] == "POST /onboarding/members/me/becs/setup-intents"


async def test_an_inactive_mandate_makes_the_member_unready_and_a_new_one_restores_them(stack: Stack) -> None:
    member_id = await stack.register()
    first = await stack.authorise_bank_account(member_id)
    await stack.onboard_payout_account(member_id)
    await stack.wait_for_readiness(member_id, ready=True)
    await stack.settle()
    old_method, old_mandate = first["becs"]["payment_method_id"], first["becs"]["mandate_id"]

    # The member cancels the Direct Debit Request with their bank.
    await asyncio.to_thread(stack.sim.deactivate_mandate, old_mandate)
    unready = await stack.wait_for_readiness(member_id, ready=False)
    assert unready["readiness"]["missing"] == ["becs_mandate_inactive"]
    assert unready["becs"]["mandate_status"] == "inactive"

    second = await stack.authorise_bank_account(member_id, "000123456")
    assert second["readiness"] == {"ready": True, "missing": []}
    assert second["becs"]["mandate_id"] != old_mandate
    assert second["becs"]["payment_method_id"] != old_method
    await stack.settle()

    readiness = await stack.about(member_id, subjects.ONBOARDING_MEMBER_READINESS_CHANGED)
    assert [(r["ready"], r["missing"]) for r in readiness] == [
        (False, ["becs_mandate", "payout_account"]),  # registered: a customer now
        (False, ["payout_account"]),
        (False, ["payout_account_onboarding"]),
        (True, []),
        (False, ["becs_mandate_inactive"]),
        (True, []),
    ]
    methods = await stack.about(member_id, subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED)
    assert [(m["payment_method_id"], m["mandate_id"], m["mandate_status"]) for m in methods] == [
        (old_method, old_mandate, "active"),
        (old_method, old_mandate, "inactive"),
        (second["becs"]["payment_method_id"], second["becs"]["mandate_id"], "active"),
    ]
    assert methods[2]["previous_mandate_id"] == old_mandate
    assert [n["kind"] for n in await stack.notifications(member_id)] == ["mandate_inactive"]
