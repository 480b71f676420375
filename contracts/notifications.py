"""Notifications to members on ``notify.member.<kind>``, for whatever sends e-mail or push."""

from uuid import UUID

from pydantic import Field

from contracts.messages import Message


class MemberNotification(Message):
    """Something a member should hear about, and what they can do about it."""

    member_id: str = Field(description="The member to notify (the identity provider's sub).")
    kind: str = Field(
        pattern=r"^[a-z0-9_]+$",
        description="What happened; also the subject's last part, e.g. mandate_inactive.",
    )
    title: str = Field(description="A short headline.")
    body: str = Field(description="A sentence or two for the member.")
    action: str | None = Field(
        description="What the member should do, as an API step the frontend offers, e.g. "
        "'POST /onboarding/members/me/becs/setup-intents'; null when nothing is needed."
    )
    group_ids: list[UUID] = Field(description="The member's groups this concerns.")
