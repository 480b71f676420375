"""The same flows through the SDK's `_async` twins."""

import asyncio
from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import MANDATE_DATA, unique_email
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator


async def test_a_member_is_saved_and_debited_through_the_async_sdk() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer = await client.v1.customers.create_async({"email": unique_email()})
    setup = await client.v1.setup_intents.create_async(
        {
            "customer": customer.id,
            "payment_method": "pm_auBecsDebit_success",
            "mandate_data": MANDATE_DATA,
            "confirm": True,
        }
    )
    intents = await asyncio.gather(
        *(
            client.v1.payment_intents.create_async(
                {
                    "amount": 1_000 + n,
                    "currency": "aud",
                    "customer": customer.id,
                    "payment_method": str(setup.payment_method),
                    "confirm": True,
                    "off_session": True,
                }
            )
            for n in range(5)
        )
    )
    assert {intent.status for intent in intents} == {"processing"}

    await asyncio.to_thread(sim.advance, timedelta(seconds=2))
    settled = [await client.v1.payment_intents.retrieve_async(i.id) for i in intents]

    assert {intent.status for intent in settled} == {"succeeded"}
    assert sorted(intent.amount_received for intent in settled) == [1_000 + n for n in range(5)]


async def test_async_errors_carry_stripes_codes() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_intents.retrieve_async("pi_missing")

    assert refused.value.code == "resource_missing"


async def test_async_lists_page_through_everything() -> None:
    client = shared_simulator().client()
    email = unique_email()
    for _ in range(3):
        await client.v1.customers.create_async({"email": email})

    page = await client.v1.customers.list_async({"email": email, "limit": 2})
    everything = [c async for c in page.auto_paging_iter()]

    assert page.has_more is True
    assert len(everything) == 3
