"""The four ways a payout order is decided, and the seeded draw any member can repeat."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.onboarding.domain.payout_order import (
    InvalidPayoutOrderError,
    PayoutOrderMethod,
    Seat,
    SlotTakenError,
    check_slot_choice,
    checked_fixed_order,
    draw,
    fixed_order_with,
    fixed_order_without,
    payout_order,
    seed_commitment,
)

SEATS = [Seat("ada", 7), Seat("bo", 3), Seat("cy", 12), Seat("di", 9)]
members = st.lists(st.text(min_size=1, max_size=12), min_size=2, max_size=50, unique=True)


def test_join_order_is_the_order_members_joined_in() -> None:
    assert payout_order(PayoutOrderMethod.JOIN_ORDER, SEATS, fixed_order=(), seed="s") == [
        "bo",
        "ada",
        "di",
        "cy",
    ]


def test_the_draw_is_the_published_recipe_sha256_of_seed_and_member() -> None:
    seed = "5d1c0ffee"
    expected = sorted(
        ["ada", "bo", "cy", "di"], key=lambda m: hashlib.sha256(f"{seed}:{m}".encode()).hexdigest()
    )
    assert payout_order(PayoutOrderMethod.RANDOM_DRAW, SEATS, fixed_order=(), seed=seed) == expected
    assert seed_commitment(seed) == hashlib.sha256(seed.encode()).hexdigest()


@given(members=members, seed=st.text(min_size=1, max_size=64))
def test_a_draw_is_a_permutation_that_does_not_depend_on_the_order_members_are_listed(
    members: list[str], seed: str
) -> None:
    drawn = draw(seed, members)
    assert sorted(drawn) == sorted(members)
    assert draw(seed, list(reversed(members))) == drawn


def test_different_seeds_draw_different_orders() -> None:
    group = [f"member-{n}" for n in range(20)]
    orders = {tuple(draw(f"seed-{n}", group)) for n in range(10)}
    assert len(orders) == 10


def test_a_fixed_order_is_the_admins_and_must_cover_every_member() -> None:
    order = ("cy", "ada", "di", "bo")
    assert payout_order(PayoutOrderMethod.FIXED, SEATS, fixed_order=order, seed="s") == list(order)
    with pytest.raises(InvalidPayoutOrderError):
        payout_order(PayoutOrderMethod.FIXED, SEATS, fixed_order=("cy", "ada"), seed="s")


def test_members_choice_places_the_chosen_and_fills_the_rest_in_join_order() -> None:
    seats = [Seat("ada", 7, chosen_slot=4), Seat("bo", 3), Seat("cy", 12, chosen_slot=1), Seat("di", 9)]
    assert payout_order(PayoutOrderMethod.MEMBERS_CHOICE, seats, fixed_order=(), seed="s") == [
        "cy",
        "bo",
        "di",
        "ada",
    ]


@given(data=st.data(), members=members)
def test_every_method_orders_every_member_exactly_once(data: st.DataObject, members: list[str]) -> None:
    slots = data.draw(st.permutations(range(1, len(members) + 1)))
    chosen = data.draw(st.lists(st.booleans(), min_size=len(members), max_size=len(members)))
    seats = [
        Seat(member, join_seq=index, chosen_slot=slot if keep else None)
        for index, (member, slot, keep) in enumerate(zip(members, slots, chosen, strict=True))
    ]
    for method in PayoutOrderMethod:
        order = payout_order(method, seats, fixed_order=tuple(reversed(members)), seed="seed")
        assert sorted(order) == sorted(members), method


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (["ada", "bo", "cy"], "missing from the order: di"),
        (["ada", "bo", "cy", "di", "eve"], "not members of the group: eve"),
        (["ada", "ada", "bo", "cy", "di"], "more than once"),
    ],
)
def test_the_admins_fixed_order_lists_every_member_once(order: list[str], problem: str) -> None:
    with pytest.raises(InvalidPayoutOrderError, match=problem):
        checked_fixed_order(order, ["ada", "bo", "cy", "di"])
    assert checked_fixed_order(["di", "cy", "bo", "ada"], ["ada", "bo", "cy", "di"]) == (
        "di",
        "cy",
        "bo",
        "ada",
    )


def test_a_member_who_joins_goes_last_in_a_fixed_order_and_one_who_leaves_drops_out() -> None:
    assert fixed_order_with(("ada", "bo"), "cy") == ("ada", "bo", "cy")
    assert fixed_order_with(("ada", "bo"), "bo") == ("ada", "bo")
    assert fixed_order_without(("ada", "bo", "cy"), "bo") == ("ada", "cy")


def test_a_slot_exists_and_belongs_to_one_member() -> None:
    seats = [Seat("ada", 1, chosen_slot=2), Seat("bo", 2)]
    check_slot_choice(1, "bo", seats, size=3)
    check_slot_choice(2, "ada", seats, size=3)  # choosing your own slot again is fine
    with pytest.raises(SlotTakenError):
        check_slot_choice(2, "bo", seats, size=3)
    for slot in (0, 4):
        with pytest.raises(InvalidPayoutOrderError, match="does not exist"):
            check_slot_choice(slot, "bo", seats, size=3)
