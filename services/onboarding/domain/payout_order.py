"""Who receives the pot in which cycle: the four ways a group decides it, and the seeded draw.

Pure: no I/O. The order is worked out from the members when the admin starts the group and never
changes after. A random draw has to be one members can check: its seed is made when the group
is created and only its SHA-256 is shown until activation, when the seed itself is published, so
nobody (the admin and rosca included) can choose members or a seed to get a wanted order.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.onboarding.domain.errors import DomainError

DRAW_ALGORITHM = "sha256-rank-v1"


class PayoutOrderMethod(StrEnum):
    FIXED = "fixed"
    JOIN_ORDER = "join_order"
    RANDOM_DRAW = "random_draw"
    MEMBERS_CHOICE = "members_choice"


class InvalidPayoutOrderError(DomainError):
    kind = "invalid_payout_order"


class SlotTakenError(DomainError):
    kind = "payout_slot_taken"


class WrongPayoutOrderMethodError(DomainError):
    kind = "wrong_payout_order_method"


@dataclass(frozen=True)
class Seat:
    """A member as the order sees them: when they joined, and the slot they chose, if any."""

    member_id: str
    join_seq: int
    chosen_slot: int | None = None


def seed_commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def draw(seed: str, member_ids: Sequence[str]) -> list[str]:
    """The ``sha256-rank-v1`` draw: by the hex SHA-256 of ``<seed>:<member_id>``, then by id.

    Easy to repeat in any language, and the same whatever order the members are given in.
    """
    return sorted(
        member_ids, key=lambda member: (hashlib.sha256(f"{seed}:{member}".encode()).hexdigest(), member)
    )


def payout_order(
    method: PayoutOrderMethod, seats: Sequence[Seat], *, fixed_order: Sequence[str], seed: str
) -> list[str]:
    """Member ids in payout order: the first receives the first cycle's pot."""
    by_joining = [seat.member_id for seat in sorted(seats, key=lambda seat: seat.join_seq)]
    if method is PayoutOrderMethod.JOIN_ORDER:
        return by_joining
    if method is PayoutOrderMethod.RANDOM_DRAW:
        return draw(seed, by_joining)
    if method is PayoutOrderMethod.FIXED:
        if sorted(fixed_order) != sorted(by_joining):
            raise InvalidPayoutOrderError("the fixed order must list every member exactly once")
        return list(fixed_order)
    return _members_choice(seats, by_joining)


def _members_choice(seats: Sequence[Seat], by_joining: list[str]) -> list[str]:
    # A group starts only once every member chose (groups.start_blockers); for any other seating
    # the members who did not choose take the slots left in join order, so the order is total.
    order: list[str | None] = [None] * len(seats)
    for seat in seats:
        if seat.chosen_slot is not None:
            order[seat.chosen_slot - 1] = seat.member_id
    undecided = iter(member for member in by_joining if member not in order)
    return [member if member is not None else next(undecided) for member in order]


def checked_fixed_order(order: Sequence[str], member_ids: Sequence[str]) -> tuple[str, ...]:
    """The admin's order, if it lists every current member exactly once."""
    problems = []
    if len(set(order)) != len(order):
        problems.append("a member appears more than once")
    if strangers := sorted(set(order) - set(member_ids)):
        problems.append(f"not members of the group: {', '.join(strangers)}")
    if absent := [member for member in member_ids if member not in order]:
        problems.append(f"members missing from the order: {', '.join(absent)}")
    if problems:
        raise InvalidPayoutOrderError("; ".join(problems))
    return tuple(order)


def fixed_order_with(order: Sequence[str], member_id: str) -> tuple[str, ...]:
    """A member who joins goes last in a fixed order, until the admin moves them."""
    return (*order, member_id) if member_id not in order else tuple(order)


def fixed_order_without(order: Sequence[str], member_id: str) -> tuple[str, ...]:
    return tuple(member for member in order if member != member_id)


def check_slot_choice(slot: int, member_id: str, seats: Sequence[Seat], size: int) -> None:
    if not 1 <= slot <= size:
        raise InvalidPayoutOrderError(f"slot {slot} does not exist: slots run from 1 to {size}")
    holder = next((seat.member_id for seat in seats if seat.chosen_slot == slot), None)
    if holder is not None and holder != member_id:
        raise SlotTakenError(f"slot {slot} is already taken")
