"""Debit attempts: submitting one, what Stripe reports of it, and the retry rule after a failure."""

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from services.collections.domain import postings
from services.collections.domain.commands import (
    CreatePaymentIntent,
    NoticeKind,
    ReadStripeFee,
    ScheduleRetry,
)
from services.collections.domain.contribution import (
    IN_FLIGHT,
    Contribution,
    ContributionStatus,
    FailureClass,
    RefundProgress,
    classify_failure,
    payment_intent_idempotency_key,
    retry_timer_id,
)
from services.collections.domain.cycle import CycleStatus
from services.collections.domain.rotation import DEBIT_SUBMISSION_TIME
from services.collections.domain.step import Step

Status = ContributionStatus


def is_current_debit(contribution: Contribution, attempt: int) -> bool:
    """A report about the attempt now out at Stripe; any other report is late or a duplicate."""
    return contribution.attempt == attempt and contribution.status in IN_FLIGHT


def submit_next_attempt(step: Step, contribution: Contribution) -> None:
    """Debit again now, if the attempt limit and the deadline allow; otherwise the member defaults."""
    plan = step.state.plan
    attempt = contribution.attempt + 1
    if attempt > plan.policy.attempt_limit or not _settles_in_time(step, step.now):
        _fail_for_good(step, contribution)
        return
    submitted = replace(
        contribution,
        status=Status.PENDING,
        attempt=attempt,
        attempt_mandate_id=contribution.payment_method.mandate_id,
        payment_intent_id=None,
        charge_id=None,
        refund=RefundProgress.NONE,
        next_attempt_at=None,
    )
    step.update(submitted)
    method = contribution.payment_method
    step.command(
        CreatePaymentIntent(
            idempotency_key=payment_intent_idempotency_key(contribution.contribution_id, attempt),
            contribution_id=contribution.contribution_id,
            member_id=contribution.member_id,
            attempt=attempt,
            amount=contribution.amount,
            currency=plan.currency,
            customer_id=method.customer_id,
            payment_method_id=method.payment_method_id,
            mandate_id=method.mandate_id,
            transfer_group=plan.transfer_group,
            metadata=step.stripe_metadata(submitted),
        )
    )


def record_payment_intent(
    step: Step, contribution: Contribution, payment_intent_id: str, *, processing: bool
) -> Contribution:
    """Stripe created the attempt's PaymentIntent, or says it is processing (which moves it on)."""
    if processing and contribution.status is Status.PENDING:
        contribution = replace(contribution, status=Status.PROCESSING)
    if contribution.payment_intent_id is None:
        contribution = replace(contribution, payment_intent_id=payment_intent_id)
    step.update(contribution)
    return contribution


def debit_succeeded(
    step: Step, contribution: Contribution, payment_intent_id: str, charge_id: str, stripe_fee: int
) -> Contribution:
    collected = replace(
        contribution, status=Status.SUCCEEDED, payment_intent_id=payment_intent_id, charge_id=charge_id
    )
    step.update(collected)
    step.post(*postings.debit_collected(step.debit(contribution), stripe_fee))
    if stripe_fee <= 0:
        # Stripe's reports of a debit do not carry its fee: it is read from the charge, and
        # booked (apart from the pot) when it is known.
        step.command(
            ReadStripeFee(
                contribution.contribution_id,
                contribution.attempt,
                payment_intent_id,
                charge_id,
                step.state.plan.currency,
            )
        )
    return collected


def debit_failed(
    step: Step, contribution: Contribution, failure_code: str | None, reported_at: datetime
) -> None:
    """The retry rule: a passing failure waits a few business days, a lost mandate waits for the
    member; either only while an attempt can still settle by the deadline."""
    failed = replace(contribution, last_failure_code=failure_code)
    if (
        step.state.status is not CycleStatus.COLLECTING
        or failed.attempt >= step.state.plan.policy.attempt_limit
    ):
        _fail_for_good(step, failed, failure_code)
    elif classify_failure(failure_code) is FailureClass.TRANSIENT:
        _retry_later(step, failed, failure_code)
    else:
        _retry_on_a_new_mandate(step, failed, failure_code, reported_at)


def _retry_later(step: Step, failed: Contribution, failure_code: str | None) -> None:
    retry_at = _retry_time(step)
    if not _settles_in_time(step, retry_at):
        _fail_for_good(step, failed, failure_code)
        return
    step.update(replace(failed, status=Status.RETRY_SCHEDULED, next_attempt_at=retry_at))
    step.command(
        ScheduleRetry(
            timer_id=retry_timer_id(failed.contribution_id, failed.attempt + 1),
            contribution_id=failed.contribution_id,
            attempt=failed.attempt + 1,
            at=retry_at,
        )
    )
    step.notify(failed, NoticeKind.DEBIT_FAILED_RETRYING, failure_code=failure_code, next_attempt_at=retry_at)


def _retry_on_a_new_mandate(
    step: Step, failed: Contribution, failure_code: str | None, reported_at: datetime
) -> None:
    """No blind retry on a mandate that is gone: the next attempt waits for a new one."""
    method = failed.payment_method
    lost_mandate = failed.attempt_mandate_id or method.mandate_id
    failed = replace(failed, lost_mandate_ids=(*failed.lost_mandate_ids, lost_mandate))
    if method.mandate_active and method.mandate_id != lost_mandate:
        # The member authorised a new account since this debit went out, and we heard that first.
        step.notify(
            failed, NoticeKind.DEBIT_FAILED_RETRYING, failure_code=failure_code, next_attempt_at=step.now
        )
        submit_next_attempt(step, failed)
        return
    if not _settles_in_time(step, step.now):
        # Even a debit made now could not settle in time: waiting for a new mandate is pointless.
        _fail_for_good(step, failed, failure_code)
        return
    gone = replace(method, mandate_active=False, as_of=reported_at)
    step.update(replace(failed, status=Status.AWAITING_MANDATE, payment_method=gone, next_attempt_at=None))
    step.notify(failed, NoticeKind.DEBIT_FAILED_AUTHORISE_AGAIN, failure_code=failure_code)


def wait_for_mandate(step: Step, contribution: Contribution) -> None:
    """The mandate was inactive when the cycle started: ask the member before any debit."""
    step.update(replace(contribution, status=Status.AWAITING_MANDATE))
    step.notify(contribution, NoticeKind.MANDATE_NEEDED)


def _fail_for_good(step: Step, contribution: Contribution, failure_code: str | None = None) -> None:
    step.update(replace(contribution, status=Status.FAILED_FINAL, next_attempt_at=None))
    step.notify(contribution, NoticeKind.DEBIT_FAILED_FINAL, failure_code=failure_code)


def _retry_time(step: Step) -> datetime:
    plan = step.state.plan
    zone = ZoneInfo(plan.timezone)
    failed_on = step.now.astimezone(zone).date()
    retry_on = step.business_days.add_business_days(failed_on, plan.policy.retry_spacing_business_days)
    return datetime.combine(retry_on, DEBIT_SUBMISSION_TIME, zone)


def _settles_in_time(step: Step, submitted_at: datetime) -> bool:
    return step.business_days.settlement_date(submitted_at) <= step.state.plan.deadline_on
