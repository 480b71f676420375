"""Connect Express accounts: requirements, onboarding links, capabilities, restriction helpers."""

from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.connect_fixtures import (
    REFRESH_URL,
    RETURN_URL,
    express_account,
    onboarded_account,
    onboarding_link,
    visit,
)
from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    shared_simulator,
    start_webhook_receiver,
)


def test_a_new_express_account_owes_its_onboarding() -> None:
    client = shared_simulator().client()

    account = express_account(client)

    assert account.id.startswith("acct_")
    assert (account.type, account.country, account.default_currency) == ("express", "AU", "aud")
    assert (account.details_submitted, account.payouts_enabled, account.charges_enabled) == (
        False,
        False,
        False,
    )
    assert account.capabilities is not None
    assert account.capabilities.transfers == "inactive"
    assert account.requirements is not None
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert "external_account" in (account.requirements.currently_due or [])
    assert account.controller is not None
    assert account.controller.stripe_dashboard is not None
    assert account.controller.stripe_dashboard.type == "express"


def test_the_deprecated_type_express_is_accepted() -> None:
    client = shared_simulator().client()

    account = client.v1.accounts.create(
        {"type": "express", "country": "AU", "capabilities": {"transfers": {"requested": True}}}
    )

    assert account.type == "express"
    assert [c.id for c in client.v1.accounts.capabilities.list(account.id).data] == ["transfers"]


def test_visiting_the_onboarding_link_completes_onboarding_with_a_110000_bank_account() -> None:
    client = shared_simulator().client()
    account = express_account(client)
    link = onboarding_link(client, account.id)
    assert link.expires_at - link.created == 300

    assert visit(link.url, "222222227") == RETURN_URL

    onboarded = client.v1.accounts.retrieve(account.id)
    assert (onboarded.details_submitted, onboarded.payouts_enabled) == (True, True)
    assert onboarded.capabilities is not None
    assert onboarded.capabilities.transfers == "active"
    assert onboarded.requirements is not None
    assert (onboarded.requirements.currently_due, onboarded.requirements.disabled_reason) == ([], None)
    banks = client.v1.accounts.external_accounts.list(account.id).data
    assert len(banks) == 1
    bank = banks[0]
    assert isinstance(bank, stripe.BankAccount)
    assert (bank.routing_number, bank.last4, bank.currency) == ("110000", "2227", "aud")


def test_the_onboarding_bank_account_defaults_to_the_success_number() -> None:
    client = shared_simulator().client()

    account = onboarded_account(client, account_number="")

    bank = client.v1.accounts.external_accounts.list(account.id).data[0]
    assert isinstance(bank, stripe.BankAccount)
    assert bank.last4 == "3456"


def test_an_onboarding_link_works_once(sim: RunningSimulator) -> None:
    client = sim.client()
    account = express_account(client)
    link = onboarding_link(client, account.id)

    assert visit(link.url) == RETURN_URL
    assert visit(link.url) == REFRESH_URL


def test_an_onboarding_link_expires_after_300_seconds(sim: RunningSimulator) -> None:
    client = sim.client()
    account = express_account(client)
    link = onboarding_link(client, account.id)

    sim.advance(timedelta(seconds=301))

    assert visit(link.url) == REFRESH_URL
    assert client.v1.accounts.retrieve(account.id).details_submitted is False


def test_onboarding_events_reach_the_connect_endpoint_with_the_account(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    client = sim.client()
    platform = start_webhook_receiver()
    try:
        connect = client.v1.webhook_endpoints.create(
            {
                "url": receiver.url,
                "enabled_events": ["account.updated", "capability.updated"],
                "connect": True,
            }
        )
        client.v1.webhook_endpoints.create({"url": platform.url, "enabled_events": ["*"]})
        account = onboarded_account(client)
        sim.run_due()
        receiver.wait_for(lambda got: len(got) == 2)

        events = [
            stripe.Webhook.construct_event(w.body, w.signature, str(connect.secret))
            for w in receiver.received
        ]
        assert sorted(e.type for e in events) == ["account.updated", "capability.updated"]
        assert {e.account for e in events} == {account.id}
        updated = next(e for e in events if e.type == "account.updated")
        assert updated.data.object["payouts_enabled"] is True
        assert updated.data.to_dict()["previous_attributes"]["payouts_enabled"] is False
        capability = next(e for e in events if e.type == "capability.updated")
        assert (capability.data.object["id"], capability.data.object["status"]) == ("transfers", "active")
        assert platform.received == []
    finally:
        platform.close()


def test_restricting_an_account_disables_payouts_and_says_so(sim: RunningSimulator) -> None:
    client = sim.client()
    account = onboarded_account(client)

    sim.helper(f"accounts/{account.id}/restrict")

    restricted = client.v1.accounts.retrieve(account.id)
    assert restricted.payouts_enabled is False
    assert restricted.requirements is not None
    assert restricted.requirements.past_due
    assert restricted.requirements.disabled_reason == "requirements.past_due"
    updates = client.v1.events.list({"type": "account.updated"}, {"stripe_account": account.id}).data
    assert updates[0].data.object["payouts_enabled"] is False


def test_the_transfers_capability_can_be_disabled_and_enabled_again(sim: RunningSimulator) -> None:
    client = sim.client()
    account = onboarded_account(client)

    sim.helper(f"accounts/{account.id}/capabilities/transfers/disable")
    disabled = client.v1.accounts.capabilities.retrieve(account.id, "transfers")
    sim.helper(f"accounts/{account.id}/capabilities/transfers/enable")
    enabled = client.v1.accounts.capabilities.retrieve(account.id, "transfers")

    assert (disabled.status, enabled.status) == ("inactive", "active")
    assert disabled.requirements is not None
    assert disabled.requirements.disabled_reason == "platform_paused"
    statuses = [
        e.data.object["status"]
        for e in client.v1.events.list({"type": "capability.updated"}, {"stripe_account": account.id}).data
    ]
    assert statuses == ["active", "inactive", "active"]


def test_accounts_can_be_listed_updated_and_deleted(sim: RunningSimulator) -> None:
    client = sim.client()
    first, second = express_account(client), express_account(client)

    updated = client.v1.accounts.update(first.id, {"metadata": {"member": "m-1"}})
    listed = [a.id for a in client.v1.accounts.list().data]
    client.v1.accounts.delete(second.id)

    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"member": "m-1"}
    assert listed == [second.id, first.id]
    assert [a.id for a in client.v1.accounts.list().data] == [first.id]
    with pytest.raises(stripe.PermissionError):
        client.v1.customers.list({}, {"stripe_account": second.id})


async def test_an_account_through_the_async_sdk() -> None:
    client = shared_simulator().client()
    account = await client.v1.accounts.create_async(
        {"type": "express", "country": "AU", "capabilities": {"transfers": {"requested": True}}}
    )

    fetched = await client.v1.accounts.retrieve_async(account.id)

    assert fetched.id == account.id


def test_get_account_is_the_platform_or_under_stripe_account_the_connected_one() -> None:
    client = shared_simulator().client()
    member = express_account(client)

    platform = client.v1.accounts.retrieve_current()
    again = client.v1.accounts.retrieve_current()
    connected = client.v1.accounts.retrieve_current({}, {"stripe_account": member.id})

    assert platform.id.startswith("acct_")
    assert again.id == platform.id
    assert (platform.country, platform.charges_enabled, platform.payouts_enabled) == ("AU", True, True)
    assert platform.id not in [a.id for a in client.v1.accounts.list({"limit": 100}).data]
    assert connected.id == member.id
