"""What a valid group is, who may join, leave or change it, and when its admin may start it."""

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from services.onboarding.domain.group_terms import (
    Cadence,
    GroupTerms,
    InvalidGroupError,
    Policy,
    check_terms,
    default_policy,
    needed_window,
)
from services.onboarding.domain.groups import (
    AdminCannotLeaveError,
    Group,
    GroupFullError,
    GroupLockedError,
    GroupNotFoundError,
    GroupNotReadyToStartError,
    GroupStatus,
    NotGroupAdminError,
    StartBlocker,
    activate,
    check_may_leave,
    may_join,
    require_admin,
    shown_status,
    start_blockers,
)
from services.onboarding.domain.members import MandateStatus, MemberState, PayoutAccount
from services.onboarding.domain.payout_order import PayoutOrderMethod, Seat, seed_commitment

# 10:00 in Sydney on Monday 2 March 2026.
NOW = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
TERMS = GroupTerms(
    name="Friday circle",
    contribution_amount=5_000,
    currency="aud",
    cadence=Cadence.FORTNIGHTLY,
    size=3,
    start_date=date(2026, 3, 16),
    timezone="Australia/Sydney",
    policy=default_policy(Cadence.FORTNIGHTLY),
    payout_order_method=PayoutOrderMethod.JOIN_ORDER,
)


def problems_of(terms: GroupTerms) -> list[str]:
    try:
        check_terms(terms, NOW)
    except InvalidGroupError as invalid:
        return [problem.field for problem in invalid.problems]
    return []


@pytest.mark.parametrize("cadence", list(Cadence))
def test_each_cadences_default_policy_is_valid(cadence: Cadence) -> None:
    assert problems_of(replace(TERMS, cadence=cadence, policy=default_policy(cadence))) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contribution_amount": 49}, "contribution_amount"),
        ({"contribution_amount": 1_000_001}, "contribution_amount"),
        ({"currency": "nzd"}, "currency"),
        ({"size": 1}, "size"),
        ({"size": 51}, "size"),
        ({"start_date": date(2026, 3, 2)}, "start_date"),  # today in Sydney, though tomorrow in UTC
        ({"start_date": date(2027, 3, 16)}, "start_date"),
        ({"timezone": "Australia/Atlantis"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"name": " "}, "name"),
        ({"name": "n" * 81}, "name"),
        ({"policy": Policy(0, 1, 10)}, "policy.attempt_limit"),
        ({"policy": Policy(6, 1, 10)}, "policy.attempt_limit"),
        ({"policy": Policy(2, 0, 10)}, "policy.retry_spacing_business_days"),
        ({"policy": Policy(2, 11, 10)}, "policy.retry_spacing_business_days"),
        ({"policy": Policy(2, 1, 10, platform_fee_bps=1_001)}, "policy.platform_fee_bps"),
        ({"policy": Policy(2, 1, 11)}, "policy.collection_window_business_days"),
        ({"policy": Policy(3, 2, 9)}, "policy.collection_window_business_days"),
    ],
)
def test_invalid_terms_name_the_field_at_fault(change: dict[str, object], field: str) -> None:
    assert problems_of(replace(TERMS, **change)) == [field]  # type: ignore[arg-type]


def test_the_amount_limits_are_stripes_minimum_and_becs_per_debit_limit_inclusive() -> None:
    assert problems_of(replace(TERMS, contribution_amount=50)) == []
    assert problems_of(replace(TERMS, contribution_amount=1_000_000)) == []
    assert problems_of(replace(TERMS, size=2)) == problems_of(replace(TERMS, size=50)) == []


def test_every_attempt_needs_two_business_days_to_settle_plus_the_spacing_between() -> None:
    assert needed_window(Policy(1, 1, 2)) == 2
    assert needed_window(Policy(3, 1, 10)) == 8
    assert needed_window(Policy(3, 2, 15)) == 10
    assert problems_of(replace(TERMS, policy=Policy(3, 2, 10))) == []


def group(**changes: object) -> Group:
    fields: dict[str, object] = {
        "group_id": uuid4(),
        "terms": TERMS,
        "admin_member_id": "ada",
        "status": GroupStatus.FORMING,
        "invite_code": "ABCD2345",
        "draw_seed": "seed",
    }
    fields.update(changes)
    return Group(**fields)  # type: ignore[arg-type]


SEATS = [Seat("ada", 1), Seat("bo", 2), Seat("cy", 3)]


def ready(member_id: str) -> MemberState:
    return MemberState(
        member_id,
        customer_id=f"cus_{member_id}",
        payment_method_id=f"pm_{member_id}",
        mandate_id=f"mandate_{member_id}",
        mandate_status=MandateStatus.ACTIVE,
        payout_account=PayoutAccount(f"acct_{member_id}", True, True, "active"),
    )


READY = {member: ready(member) for member in ("ada", "bo", "cy")}


def test_joining_needs_room_and_a_group_that_has_not_started_and_twice_changes_nothing() -> None:
    assert may_join(group(), SEATS[:2], "cy")
    assert not may_join(group(), SEATS, "bo")
    with pytest.raises(GroupFullError):
        may_join(group(), SEATS, "di")
    with pytest.raises(GroupLockedError):
        may_join(group(status=GroupStatus.ACTIVE), SEATS[:2], "cy")


def test_only_a_member_leaves_only_before_the_start_and_never_the_admin() -> None:
    check_may_leave(group(), SEATS, "bo")
    with pytest.raises(GroupNotFoundError):
        check_may_leave(group(), SEATS, "di")
    with pytest.raises(AdminCannotLeaveError):
        check_may_leave(group(), SEATS, "ada")
    with pytest.raises(GroupLockedError):
        check_may_leave(group(status=GroupStatus.ACTIVE), SEATS, "bo")


def test_the_admin_role_is_the_admins_and_strangers_see_no_group() -> None:
    require_admin(group(), SEATS, "ada")
    with pytest.raises(NotGroupAdminError):
        require_admin(group(), SEATS, "bo")
    with pytest.raises(GroupNotFoundError):
        require_admin(group(), SEATS, "di")


def test_a_group_waits_until_full_every_member_ready_the_order_complete_and_the_start_date_ahead() -> None:
    assert start_blockers(group(), SEATS, READY, NOW) == []
    assert start_blockers(group(), SEATS[:2], READY, NOW) == [
        StartBlocker("members", "2 of 3 members have joined")
    ]
    unready = {**READY, "bo": replace(READY["bo"], mandate_status=MandateStatus.INACTIVE)}
    assert start_blockers(group(), SEATS, unready, NOW) == [StartBlocker("members.bo", "bo is not ready yet")]
    late = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
    assert start_blockers(group(), SEATS, READY, late) == [
        StartBlocker("start_date", "the start date has passed: the admin must choose a new one")
    ]
    assert start_blockers(group(status=GroupStatus.ACTIVE), SEATS[:1], {}, NOW) == []
    choosing = group(terms=replace(TERMS, payout_order_method=PayoutOrderMethod.MEMBERS_CHOICE))
    chosen = [Seat("ada", 1, 2), Seat("bo", 2), Seat("cy", 3)]
    assert start_blockers(choosing, chosen, READY, NOW) == [
        StartBlocker("members.bo.chosen_slot", "bo has not chosen a payout slot"),
        StartBlocker("members.cy.chosen_slot", "cy has not chosen a payout slot"),
    ]
    assert start_blockers(choosing, [Seat("ada", 1, 2), Seat("bo", 2, 3), Seat("cy", 3, 1)], READY, NOW) == []


def test_a_group_with_nothing_left_to_wait_for_shows_ready_to_start_until_its_admin_starts_it() -> None:
    assert shown_status(group(), []) is GroupStatus.READY_TO_START
    assert (
        shown_status(group(), [StartBlocker("members", "2 of 3 members have joined")]) is GroupStatus.FORMING
    )
    assert shown_status(group(status=GroupStatus.ACTIVE), []) is GroupStatus.ACTIVE


def test_activation_locks_the_order_and_carries_each_members_debit_and_payout_details() -> None:
    forming = group(terms=replace(TERMS, payout_order_method=PayoutOrderMethod.RANDOM_DRAW))
    cause = uuid4()
    locked, activated = activate(forming, SEATS, READY, NOW, cause)

    assert locked.status is GroupStatus.ACTIVE
    assert locked.activated_at == NOW
    assert list(locked.locked_order) == [member.member_id for member in activated.members]
    assert activated.draw is not None
    assert (activated.draw.seed, activated.draw.seed_commitment) == ("seed", seed_commitment("seed"))
    assert (activated.correlation_id, activated.causation_id) == (str(forming.group_id), cause)
    first = activated.members[0]
    assert first.position == 1
    assert (first.customer_id, first.payment_method_id, first.mandate_id, first.connected_account_id) == (
        f"cus_{first.member_id}",
        f"pm_{first.member_id}",
        f"mandate_{first.member_id}",
        f"acct_{first.member_id}",
    )
    assert activated.policy.collection_window_business_days == 10


def test_a_group_that_is_not_ready_cannot_start_and_one_that_started_cannot_start_again() -> None:
    unready = {**READY, "bo": replace(READY["bo"], mandate_status=MandateStatus.INACTIVE)}
    with pytest.raises(
        GroupNotReadyToStartError, match="cannot start yet: 2 of 3 members have joined"
    ) as refused:
        activate(group(), SEATS[:2], unready, NOW)
    # Each blocker is a problem of its own, named by where it lies, for the error body's `problems`.
    assert refused.value.problems == (
        StartBlocker("members", "2 of 3 members have joined"),
        StartBlocker("members.bo", "bo is not ready yet"),
    )
    with pytest.raises(GroupLockedError):
        activate(group(status=GroupStatus.ACTIVE), SEATS, READY, NOW)
    _, activated = activate(group(), SEATS, READY, NOW)
    assert activated.draw is None
    assert [m.member_id for m in activated.members] == ["ada", "bo", "cy"]
