"""Stripe's rate limit costs members time, never an error: calls wait for the shared budget."""

import asyncio

import pytest

from tests.integration.onboarding.support import Stack

pytestmark = pytest.mark.integration

# Stripe's test-mode rate, which is the simulator's default and the service's default budget.
STRIPE_TEST_MODE_RATE = 25


async def test_concurrent_onboarding_links_against_a_rate_limited_stripe_all_succeed(stack: Stack) -> None:
    assert stack.settings.stripe_requests_per_second == STRIPE_TEST_MODE_RATE
    members = [await stack.register() for _ in range(30)]
    await asyncio.sleep(1.1)  # nothing of the registrations left in the simulator's one-second window
    stack.sim.faults(rate_limit_ops_per_second=STRIPE_TEST_MODE_RATE)
    try:
        # Each call makes two Stripe requests (the member's account, then the link): 60 at once.
        answers = await asyncio.gather(
            *(
                stack.call("POST", "/members/me/payout-account/onboarding-link", member, expect=None)
                for member in members
            )
        )
    finally:
        stack.sim.faults(rate_limit_ops_per_second=0)
    assert [answer.status_code for answer in answers] == [200] * len(members), [
        answer.text for answer in answers if answer.status_code != 200
    ]
    assert len({answer.json()["account_id"] for answer in answers}) == len(members)
