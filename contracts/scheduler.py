"""Commands addressed to the scheduler: set, move and cancel durable timers."""

from typing import Final

from pydantic import AwareDatetime, Field, JsonValue

from contracts import subjects
from contracts.messages import Message

TIMER_TARGET_ROOTS: Final[tuple[str, ...]] = tuple(
    subject.removesuffix(".>")
    for subject in (
        subjects.ONBOARDING_ALL,
        subjects.COLLECTIONS_ALL,
        subjects.PAYOUTS_ALL,
        subjects.NOTIFY_ALL,
    )
)
"""Subject roots a timer may publish to: streams that carry commands and notifications.

Not ``stripe.`` (verified Stripe events only), not ``scheduler.`` (a timer never schedules
timers) and not ``deadletter.``.
"""

TIMER_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]*$"
TIMER_TARGET_PATTERN: Final = rf"^({'|'.join(TIMER_TARGET_ROOTS)})(\.[A-Za-z0-9_-]+)+$"


class ScheduleTimer(Message):
    """Set a timer, or move it while it is still pending.

    The caller chooses ``timer_id``, so sending the same command again is harmless. When the timer
    comes due, ``payload`` is published as-is to ``target_subject`` exactly once, with
    ``Nats-Msg-Id`` = ``timer:<timer_id>``. A schedule for a timer that has already fired or been
    cancelled changes nothing; a schedule older (by ``occurred_at``) than the one that last set the
    timer is ignored, so a late redelivery never moves a timer back.
    """

    timer_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=TIMER_ID_PATTERN,
        description="Caller-chosen id of the timer, unique for ever (e.g. 'cycle:grp_1:3:start'); "
        "letters, digits and . _ : / @ + = -.",
    )
    due_at: AwareDatetime = Field(
        description="When the timer fires, on the platform clock. A time already past fires at once."
    )
    target_subject: str = Field(
        max_length=200,
        pattern=TIMER_TARGET_PATTERN,
        description="Subject the payload is published to when due, under onboarding., collections., "
        "payouts. or notify. (e.g. 'collections.cmd.start_cycle').",
    )
    payload: dict[str, JsonValue] = Field(
        description="The JSON object published to target_subject, usually a whole message of that "
        "subject (with its own message_id, which the receiver's inbox deduplicates on)."
    )


class CancelTimer(Message):
    """Cancel a timer for good. A cancel that arrives before its schedule still wins."""

    timer_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=TIMER_ID_PATTERN,
        description="Id of the timer to cancel, as given to scheduler.cmd.schedule.",
    )
