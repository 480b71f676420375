"""The cycle saga's debits: starting a cycle, statuses that never move back, the retry rules."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.collections.domain.commands import (
    CreatePaymentIntent,
    NoticeKind,
    NotifyMember,
    ReadStripeFee,
    ScheduleDeadline,
    ScheduleRetry,
)
from services.collections.domain.contribution import ContributionStatus, FailureClass, classify_failure
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.messages import (
    MandateActivated,
    PaymentIntentCreated,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    RetryDue,
    SagaMessage,
)
from services.collections.domain.postings import STRIPE_FEES
from services.collections.domain.postings import cycle_pot as pot
from services.collections.domain.saga import decide_in_turn
from services.collections.domain.step import Decision
from tests.unit.collections.cycle_fixtures import (
    BECS,
    DEFAULT_POLICY,
    CycleRun,
    activation,
    charge_id,
    collected_run,
    first_cycle,
    pi_id,
    started_run,
)

SYDNEY = ZoneInfo("Australia/Sydney")
Status = ContributionStatus


def nothing_decided(decision: Decision) -> bool:
    return decision.commands == () and decision.postings == ()


def new_active_mandate(run: CycleRun, index: int) -> MandateActivated:
    c = run.contribution(index)
    method = c.payment_method.__class__(
        customer_id=c.payment_method.customer_id,
        payment_method_id="pm_new_account",
        mandate_id="mandate_new",
        mandate_active=True,
    )
    return MandateActivated(run.now, c.member_id, method)


def test_starting_a_cycle_debits_every_member_once_with_a_deterministic_key_and_metadata() -> None:
    run = started_run()
    plan = run.state.plan
    debits = run.sent_of(CreatePaymentIntent)
    assert run.status() is CycleStatus.COLLECTING
    assert len(debits) == 3
    for debit, contribution in zip(debits, run.state.contributions, strict=True):
        assert isinstance(debit, CreatePaymentIntent)
        assert debit.idempotency_key == f"contribution-{contribution.contribution_id}-1"
        assert debit.amount == 5_000
        assert debit.currency == "aud"
        assert debit.transfer_group == f"cycle_{plan.cycle_id}"
        assert debit.metadata == {
            "group_id": str(plan.group_id),
            "cycle_id": str(plan.cycle_id),
            "cycle_number": "1",
            "member_id": contribution.member_id,
            "contribution_id": str(contribution.contribution_id),
            "attempt": "1",
        }
        assert contribution.status is Status.PENDING
        assert contribution.attempt == 1
    assert run.sent_of(ScheduleDeadline) == [
        ScheduleDeadline(f"cycle:{plan.cycle_id}:deadline", plan.cycle_id, plan.deadline_at)
    ]


def test_a_member_whose_mandate_is_inactive_waits_for_reauthorisation_and_is_told() -> None:
    state = first_cycle()
    run = CycleRun(state, state.plan.start_at)
    waiting = state.contributions[1].member_id
    run.start(inactive=frozenset({waiting}))
    assert [d.member_id for d in run.sent_of(CreatePaymentIntent)] == [
        state.contributions[0].member_id,
        state.contributions[2].member_id,
    ]
    assert run.contribution(1).status is Status.AWAITING_MANDATE
    notices = run.sent_of(NotifyMember)
    assert [(n.member_id, n.kind) for n in notices] == [(waiting, NoticeKind.MANDATE_NEEDED)]
    assert run.state.waiting_on == "members"


def test_a_second_start_and_messages_before_the_start_decide_nothing() -> None:
    run = started_run()
    assert nothing_decided(run.start())
    state = first_cycle()
    c = state.contributions[0]
    early = CycleRun(state, state.plan.start_at)
    decision = early.apply(PaymentIntentSucceeded(early.now, c.contribution_id, 1, "pi_x", "ch_x"))
    assert decision.new_state == state
    assert nothing_decided(decision)


def test_a_late_processing_after_succeeded_is_ignored() -> None:
    run = collected_run()
    run.succeed(0)
    before = run.state
    assert nothing_decided(run.processing(0))
    assert run.state == before
    assert run.contribution(0).status is Status.SUCCEEDED


def test_a_duplicate_success_posts_once_and_decides_nothing() -> None:
    run = collected_run()
    first = run.succeed(0)
    assert len(first.postings) == 1
    duplicate = run.succeed(0)
    assert nothing_decided(duplicate)
    assert run.ledger.balance(pot(run.state.plan.cycle_id)) == 5_000


def test_reports_of_an_earlier_attempt_are_ignored() -> None:
    run = collected_run()
    run.fail(0, "refer_to_customer")
    run.now = datetime(2026, 3, 19, 9, 0, tzinfo=SYDNEY)
    c = run.contribution(0)
    run.apply(RetryDue(run.now, c.contribution_id, 2))
    stale = PaymentIntentSucceeded(
        run.now, c.contribution_id, 1, pi_id(c.contribution_id, 1), charge_id(c.contribution_id, 1)
    )
    assert nothing_decided(run.apply(stale))
    assert run.contribution(0).status is Status.PENDING
    assert run.contribution(0).attempt == 2


@pytest.mark.parametrize(
    ("code", "failure_class"),
    [
        ("refer_to_customer", FailureClass.TRANSIENT),
        ("insufficient_funds", FailureClass.TRANSIENT),
        ("api_error", FailureClass.TRANSIENT),
        ("rate_limit", FailureClass.TRANSIENT),
        ("account_closed", FailureClass.MANDATE_GONE),
        ("no_account", FailureClass.MANDATE_GONE),
        ("debit_not_authorized", FailureClass.MANDATE_GONE),
        ("mandate_inactive", FailureClass.MANDATE_GONE),
        ("something_stripe_adds_next_year", FailureClass.MANDATE_GONE),
        (None, FailureClass.MANDATE_GONE),
    ],
)
def test_failure_codes_fall_in_their_class_and_unknown_ones_wait_for_the_member(
    code: str | None, failure_class: FailureClass
) -> None:
    assert classify_failure(code) is failure_class


def test_a_transient_failure_schedules_a_retry_after_the_spacing_and_tells_the_member() -> None:
    run = collected_run()
    run.now = datetime(2026, 3, 18, 10, 0, tzinfo=SYDNEY)  # Wednesday: the outcome arrives
    decision = run.fail(0, "refer_to_customer")
    c = run.contribution(0)
    retry_at = datetime(2026, 3, 19, 9, 0, tzinfo=SYDNEY)  # one business day on, in the morning
    assert c.status is Status.RETRY_SCHEDULED
    assert c.next_attempt_at == retry_at
    assert (
        ScheduleRetry(f"contribution:{c.contribution_id}:attempt:2", c.contribution_id, 2, retry_at)
        in decision.commands
    )
    [notice] = [command for command in decision.commands if isinstance(command, NotifyMember)]
    assert notice.kind is NoticeKind.DEBIT_FAILED_RETRYING
    assert notice.failure_code == "refer_to_customer"
    assert notice.next_attempt_at == retry_at
    assert notice.deadline_on == run.state.plan.deadline_on


def test_the_retry_is_a_new_payment_intent_keyed_by_the_next_attempt_and_fires_once() -> None:
    run = collected_run()
    run.fail(0, "refer_to_customer")
    run.now = datetime(2026, 3, 19, 9, 0, tzinfo=SYDNEY)
    c = run.contribution(0)
    decision = run.apply(RetryDue(run.now, c.contribution_id, 2))
    [debit] = [command for command in decision.commands if isinstance(command, CreatePaymentIntent)]
    assert debit.idempotency_key == f"contribution-{c.contribution_id}-2"
    assert debit.metadata["attempt"] == "2"
    assert nothing_decided(run.apply(RetryDue(run.now, c.contribution_id, 2)))


def test_no_retry_when_it_could_not_settle_before_the_deadline_and_the_cycle_cancels() -> None:
    run = collected_run()
    run.succeed(1)
    # Friday 27 March: a retry on Monday 30 March would settle on 1 April, after the deadline.
    run.now = datetime(2026, 3, 27, 10, 0, tzinfo=SYDNEY)
    decision = run.fail(0, "refer_to_customer")
    assert run.contribution(0).status is Status.FAILED_FINAL
    assert not any(isinstance(command, ScheduleRetry) for command in decision.commands)
    notices = [c for c in decision.commands if isinstance(c, NotifyMember)]
    assert [n.kind for n in notices] == [NoticeKind.DEBIT_FAILED_FINAL]
    assert run.status() is CycleStatus.CANCELLING
    assert run.state.defaulting_member_ids == (run.contribution(0).member_id,)


def test_a_retry_that_still_settles_on_the_deadline_day_is_scheduled() -> None:
    run = collected_run()
    run.now = datetime(2026, 3, 25, 10, 0, tzinfo=SYDNEY)  # retry Thursday 26, settles Monday 30
    run.fail(0, "refer_to_customer")
    assert run.contribution(0).status is Status.RETRY_SCHEDULED


def test_debit_attempts_stop_at_the_attempt_limit() -> None:
    policy = DEFAULT_POLICY.model_copy(update={"attempt_limit": 2})
    run = collected_run(activation(policy=policy))
    c = run.contribution(0)
    run.fail(0, "refer_to_customer")
    run.now = datetime(2026, 3, 19, 9, 0, tzinfo=SYDNEY)
    run.apply(RetryDue(run.now, c.contribution_id, 2))
    run.now = datetime(2026, 3, 23, 10, 0, tzinfo=SYDNEY)
    decision = run.fail(0, "refer_to_customer")
    assert run.contribution(0).status is Status.FAILED_FINAL
    assert not any(isinstance(command, ScheduleRetry) for command in decision.commands)


def test_a_lost_mandate_waits_for_a_new_one_without_a_blind_retry() -> None:
    run = collected_run()
    decision = run.fail(0, "account_closed")
    c = run.contribution(0)
    assert c.status is Status.AWAITING_MANDATE
    assert not c.payment_method.mandate_active
    assert not any(isinstance(command, (ScheduleRetry, CreatePaymentIntent)) for command in decision.commands)
    [notice] = [command for command in decision.commands if isinstance(command, NotifyMember)]
    assert notice.kind is NoticeKind.DEBIT_FAILED_AUTHORISE_AGAIN
    assert notice.failure_code == "account_closed"


def test_a_new_active_mandate_retries_at_once_on_the_new_account() -> None:
    run = collected_run()
    run.fail(0, "account_closed")
    run.now = datetime(2026, 3, 20, 11, 0, tzinfo=SYDNEY)
    decision = run.apply(new_active_mandate(run, 0))
    [debit] = [command for command in decision.commands if isinstance(command, CreatePaymentIntent)]
    assert debit.attempt == 2
    assert debit.payment_method_id == "pm_new_account"
    assert run.contribution(0).status is Status.PENDING
    assert nothing_decided(run.apply(new_active_mandate(run, 0)))


def test_a_new_mandate_too_late_to_settle_by_the_deadline_does_not_debit() -> None:
    run = collected_run()
    run.fail(0, "no_account")
    run.now = datetime(2026, 3, 30, 9, 0, tzinfo=SYDNEY)
    decision = run.apply(new_active_mandate(run, 0))
    assert not any(isinstance(command, CreatePaymentIntent) for command in decision.commands)
    assert run.contribution(0).status is Status.FAILED_FINAL


def test_a_new_mandate_heard_before_the_failure_it_answers_retries_at_once() -> None:
    run = collected_run()
    failed_at = run.now
    run.now = datetime(2026, 3, 18, 12, 0, tzinfo=SYDNEY)
    run.apply(new_active_mandate(run, 0))  # the member re-authorised; the failure report is late
    c = run.contribution(0)
    decision = run.apply(
        PaymentIntentFailed(failed_at, c.contribution_id, 1, pi_id(c.contribution_id, 1), "account_closed")
    )
    [debit] = [command for command in decision.commands if isinstance(command, CreatePaymentIntent)]
    assert debit.attempt == 2
    assert debit.payment_method_id == "pm_new_account"


def test_processing_records_the_payment_intent_and_never_moves_back_to_pending() -> None:
    run = started_run()
    c = run.contribution(0)
    run.apply(PaymentIntentProcessing(run.now, c.contribution_id, 1, "pi_one"))
    assert run.contribution(0).status is Status.PROCESSING
    assert run.contribution(0).payment_intent_id == "pi_one"


def test_a_redelivered_activation_of_a_mandate_that_failed_since_never_debits_it_again() -> None:
    run = collected_run()
    run.fail(0, "account_closed")
    run.now = datetime(2026, 3, 19, 10, 0, tzinfo=SYDNEY)
    first_new = new_active_mandate(run, 0)
    run.apply(first_new)
    run.processing(0)
    run.now = datetime(2026, 3, 23, 10, 0, tzinfo=SYDNEY)
    run.fail(0, "no_account")  # the new account fails too
    assert run.contribution(0).status is Status.AWAITING_MANDATE
    assert nothing_decided(run.apply(first_new))
    assert run.contribution(0).status is Status.AWAITING_MANDATE


def test_a_collected_debit_whose_report_carries_no_fee_asks_for_stripes_fee_once() -> None:
    run = collected_run()
    run.succeed(0)
    c = run.contribution(0)
    assert run.sent_of(ReadStripeFee) == [
        ReadStripeFee(
            c.contribution_id,
            1,
            pi_id(c.contribution_id, 1),
            charge_id(c.contribution_id, 1),
            "aud",
        )
    ]
    assert nothing_decided(run.succeed(0))  # the same report again asks for nothing more
    assert len(run.sent_of(ReadStripeFee)) == 1


def test_a_report_that_carries_stripes_fee_books_it_and_asks_for_nothing() -> None:
    run = collected_run()
    c = run.contribution(0)
    pi, charge = pi_id(c.contribution_id, 1), charge_id(c.contribution_id, 1)
    decision = run.apply(PaymentIntentSucceeded(run.now, c.contribution_id, 1, pi, charge, 80))
    assert not any(isinstance(command, ReadStripeFee) for command in decision.commands)
    assert run.ledger.balance(STRIPE_FEES) == 80


def test_messages_decided_in_turn_are_their_steps_one_after_another_as_one_decision() -> None:
    # Stripe's answer to a create says created and processing at once; the last debits' success
    # funds the cycle: commands, an announcement and postings from several steps in one decision.
    run = collected_run()
    created = run.contribution(0)
    reports: list[SagaMessage] = [
        PaymentIntentCreated(
            run.now, created.contribution_id, created.attempt, pi_id(created.contribution_id, 1)
        ),
        PaymentIntentProcessing(run.now, created.contribution_id, 1, pi_id(created.contribution_id, 1)),
    ]
    for index in range(len(run.state.contributions)):
        c = run.contribution(index)
        reports.append(
            PaymentIntentSucceeded(
                run.now, c.contribution_id, 1, pi_id(c.contribution_id, 1), charge_id(c.contribution_id, 1)
            )
        )

    at_once = decide_in_turn(run.state, reports, BECS, run.now)
    one_by_one = [run.apply(report) for report in reports]

    assert at_once.new_state == run.state
    assert at_once.commands == tuple(c for d in one_by_one for c in d.commands)
    assert at_once.postings == tuple(p for d in one_by_one for p in d.postings)
    assert run.status() is CycleStatus.PAYING_OUT
    assert at_once.commands
    assert at_once.postings
