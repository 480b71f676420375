"""Readiness, and the rules that keep Stripe's late, repeated or reordered reports from going backwards."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from contracts import subjects
from services.onboarding.domain.member_facts import member_facts
from services.onboarding.domain.members import (
    MandateStatus,
    MemberState,
    PayoutAccount,
    PayoutAccountStatus,
    ReadinessGap,
    SetupIntentStatus,
    SetupRef,
    account_event_is_stale,
    merged_mandate_status,
    setup_failure_applies,
    supersedes,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)
READY_ACCOUNT = PayoutAccount(
    "acct_1", details_submitted=True, payouts_enabled=True, transfers_capability="active"
)
RESTRICTED_ACCOUNT = PayoutAccount(
    "acct_1",
    details_submitted=True,
    payouts_enabled=False,
    transfers_capability="active",
    requirements_due=("individual.verification.document",),
    disabled_reason="requirements.past_due",
)
NEW_ACCOUNT = PayoutAccount(
    "acct_1", details_submitted=False, payouts_enabled=False, transfers_capability="inactive"
)


def ready_member(**changes: object) -> MemberState:
    fields: dict[str, object] = {
        "member_id": "m1",
        "customer_id": "cus_1",
        "payment_method_id": "pm_1",
        "mandate_id": "mandate_1",
        "mandate_status": MandateStatus.ACTIVE,
        "payout_account": READY_ACCOUNT,
        "group_ids": (uuid4(),),
    }
    fields.update(changes)
    return MemberState(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("member", "missing"),
    [
        (ready_member(), ()),
        (MemberState("m1"), ("stripe_customer", "becs_mandate", "payout_account")),
        (ready_member(mandate_id=None, mandate_status=None), ("becs_mandate",)),
        (ready_member(mandate_status=MandateStatus.PENDING), ("becs_mandate",)),
        (ready_member(mandate_status=MandateStatus.INACTIVE), ("becs_mandate_inactive",)),
        (ready_member(payout_account=None), ("payout_account",)),
        (ready_member(payout_account=NEW_ACCOUNT), ("payout_account_onboarding",)),
        (ready_member(payout_account=RESTRICTED_ACCOUNT), ("payout_account_restricted",)),
        (
            ready_member(mandate_status=MandateStatus.INACTIVE, payout_account=RESTRICTED_ACCOUNT),
            ("becs_mandate_inactive", "payout_account_restricted"),
        ),
    ],
)
def test_a_member_is_ready_with_a_customer_an_active_mandate_and_an_account_that_takes_transfers(
    member: MemberState, missing: tuple[str, ...]
) -> None:
    assert member.missing == tuple(ReadinessGap(gap) for gap in missing)
    assert member.ready is (missing == ())


@pytest.mark.parametrize(
    ("account", "status"),
    [
        (READY_ACCOUNT, PayoutAccountStatus.READY),
        (NEW_ACCOUNT, PayoutAccountStatus.ONBOARDING_REQUIRED),
        (RESTRICTED_ACCOUNT, PayoutAccountStatus.RESTRICTED),
        # Payouts on, but the transfers capability paused: the pot cannot be sent.
        (
            PayoutAccount(
                "acct_1", details_submitted=True, payouts_enabled=True, transfers_capability="inactive"
            ),
            PayoutAccountStatus.RESTRICTED,
        ),
    ],
)
def test_a_payout_account_is_ready_only_with_payouts_and_the_transfers_capability(
    account: PayoutAccount, status: PayoutAccountStatus
) -> None:
    assert account.status is status


def test_a_mandate_status_only_moves_forward_and_inactive_is_final() -> None:
    order = [MandateStatus.PENDING, MandateStatus.ACTIVE, MandateStatus.INACTIVE]
    for held_index, held in enumerate(order):
        for reported_index, reported in enumerate(order):
            expected = order[max(held_index, reported_index)]
            assert merged_mandate_status(held, reported) is expected, (held, reported)
    assert merged_mandate_status(None, MandateStatus.ACTIVE) is MandateStatus.ACTIVE


def test_the_newest_setup_decides_the_payment_method_whatever_order_successes_are_reported_in() -> None:
    older, newer = SetupRef("seti_b", started=7), SetupRef("seti_a", started=8)
    assert supersedes(older, None)
    assert supersedes(newer, older)
    assert not supersedes(older, newer)
    assert supersedes(older, older)  # the same setup reported again


def test_a_failure_report_never_undoes_a_finished_setup_nor_overtakes_a_later_report() -> None:
    later = T0 + timedelta(seconds=5)
    assert setup_failure_applies(SetupIntentStatus.REQUIRES_CONFIRMATION, None, T0)
    assert setup_failure_applies(SetupIntentStatus.REQUIRES_PAYMENT_METHOD, T0, later)
    assert not setup_failure_applies(SetupIntentStatus.REQUIRES_PAYMENT_METHOD, later, T0)
    assert not setup_failure_applies(SetupIntentStatus.SUCCEEDED, None, later)
    assert not setup_failure_applies(SetupIntentStatus.CANCELED, None, later)


def test_an_account_report_older_than_the_last_applied_is_stale_and_one_of_the_same_second_is_not() -> None:
    assert not account_event_is_stale(None, T0)
    assert account_event_is_stale(T0, T0 - timedelta(seconds=1))
    assert not account_event_is_stale(T0, T0)
    assert not account_event_is_stale(T0, T0 + timedelta(seconds=1))


def facts_of(before: MemberState, after: MemberState) -> list[str]:
    return [fact.subject for fact in member_facts(before, after, now=T0, causation_id=None)]


def test_nothing_changed_tells_nothing() -> None:
    assert facts_of(ready_member(), ready_member()) == []


def test_a_lost_mandate_tells_collections_the_member_and_whoever_watches_readiness() -> None:
    before, after = ready_member(), ready_member(mandate_status=MandateStatus.INACTIVE)
    facts = member_facts(before, after, now=T0, causation_id=None)
    assert [fact.subject for fact in facts] == [
        subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED,
        subjects.NOTIFY_MEMBER_MANDATE_INACTIVE,
        subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
    ]
    changed, notice, readiness = (fact.message.model_dump() for fact in facts)
    assert (changed["mandate_status"], changed["previous_mandate_status"]) == ("inactive", "active")
    assert notice["kind"] == "mandate_inactive"
    assert notice["group_ids"] == list(after.group_ids)
    assert (readiness["ready"], readiness["missing"], readiness["previously_missing"]) == (
        False,
        ["becs_mandate_inactive"],
        [],
    )
    assert {fact.message.correlation_id for fact in facts} == {"m1"}


def test_a_new_mandate_replacing_a_lost_one_is_a_new_payment_method_and_readiness_again() -> None:
    before = ready_member(mandate_status=MandateStatus.INACTIVE)
    after = ready_member(payment_method_id="pm_2", mandate_id="mandate_2")
    facts = member_facts(before, after, now=T0, causation_id=None)
    assert [fact.subject for fact in facts] == [
        subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED,
        subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
    ]
    changed = facts[0].message.model_dump()
    assert (changed["payment_method_id"], changed["previous_payment_method_id"]) == ("pm_2", "pm_1")
    assert (changed["mandate_status"], changed["previous_mandate_status"]) == ("active", "inactive")


def test_a_ready_account_restricted_and_restored_is_told_both_ways() -> None:
    ready, restricted = ready_member(), ready_member(payout_account=RESTRICTED_ACCOUNT)
    assert facts_of(ready, restricted) == [
        subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTRICTED,
        subjects.NOTIFY_MEMBER_PAYOUT_ACCOUNT_RESTRICTED,
        subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
    ]
    assert facts_of(restricted, ready) == [
        subjects.ONBOARDING_PAYOUT_ACCOUNT_RESTORED,
        subjects.ONBOARDING_MEMBER_READINESS_CHANGED,
    ]


def test_finishing_onboarding_the_first_time_is_readiness_not_a_restoration() -> None:
    assert facts_of(ready_member(payout_account=NEW_ACCOUNT), ready_member()) == [
        subjects.ONBOARDING_MEMBER_READINESS_CHANGED
    ]
