"""Disputes: a BECS dispute is lost as it opens; its metadata can change, its evidence cannot."""

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, event_types_for, saved_becs_customer
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator
from tests.integration.stripe_sim.test_stripe_sim_transfers import SETTLE


def _dispute(sim: RunningSimulator) -> stripe.Dispute:
    client = sim.client()
    customer, setup = saved_becs_customer(client, "666666660")
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(SETTLE)
    charge = client.v1.payment_intents.retrieve(intent.id).latest_charge
    (dispute,) = client.v1.disputes.list({"charge": str(charge)}).data
    return dispute


def test_a_disputes_metadata_is_updated_with_an_event(sim: RunningSimulator) -> None:
    client = sim.client()
    dispute = _dispute(sim)

    updated = client.v1.disputes.update(dispute.id, {"metadata": {"contribution_id": "c-1"}})

    assert updated.metadata.to_dict() == {"contribution_id": "c-1"}
    assert client.v1.disputes.retrieve(dispute.id).metadata.to_dict() == {"contribution_id": "c-1"}
    assert event_types_for(client, dispute.id)[-1] == "charge.dispute.updated"


def test_evidence_on_a_becs_dispute_is_refused(sim: RunningSimulator) -> None:
    client = sim.client()
    dispute = _dispute(sim)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.disputes.update(
            dispute.id, {"evidence": {"uncategorized_text": "The member agreed."}, "submit": True}
        )

    assert (refused.value.http_status, refused.value.param) == (400, "evidence")
    assert client.v1.disputes.retrieve(dispute.id).evidence.uncategorized_text is None


def test_closing_a_lost_dispute_keeps_it_lost_without_a_new_event(sim: RunningSimulator) -> None:
    client = sim.client()
    dispute = _dispute(sim)
    events_before = event_types_for(client, dispute.id)

    closed = client.v1.disputes.close(dispute.id)

    assert closed.status == "lost"
    assert event_types_for(client, dispute.id) == events_before
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.disputes.close("dp_doesnotexist")
    assert missing.value.http_status == 404
