"""The chaos run's check of Stripe's books against what collections shows, on hand-made books."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rosca.chaos.checks import stripe_books
from rosca.chaos.circles import ChaosGroup

GROUP = "grp-1"


@dataclass
class Page:
    items: list[Any]

    def auto_paging_iter(self) -> Iterator[Any]:
        return iter(self.items)


@dataclass
class Listing:
    by_customer: dict[str, list[Any]] = field(default_factory=dict)
    everything: list[Any] = field(default_factory=list)

    def list(self, params: dict[str, Any]) -> Page:
        if "customer" in params:
            return Page(self.by_customer.get(params["customer"], []))
        return Page(self.everything)


@dataclass
class Intent:
    id: str
    status: str
    metadata: dict[str, str]
    latest_charge: str = ""
    customer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"metadata": self.metadata}


@dataclass
class Transfer:
    transfer_group: str
    source_transaction: str


class FakeStripe:
    """The SDK's ``client.v1.payment_intents`` and ``client.v1.transfers`` listings, nothing more."""

    def __init__(self, intents: dict[str, list[Intent]], transfers: list[Transfer]) -> None:
        self.v1 = self
        self.payment_intents = Listing(by_customer=intents)
        self.transfers = Listing(everything=list(transfers))


class Member:
    """A member's gateway session as the check uses it: their profile and their group's cycles."""

    def __init__(self, member_id: str, cycles: dict[int, dict[str, Any]]) -> None:
        self.member_id = member_id
        self._cycles = cycles

    def get(self, path: str) -> Any:
        if path == "/onboarding/members/me":
            return {"stripe_customer_id": f"cus_{self.member_id}"}
        return self._cycles[int(path.rsplit("/", 1)[1])]


def contribution(member: str, status: str, attempts: int) -> dict[str, Any]:
    return {
        "member_id": member,
        "contribution_id": f"c-{member}",
        "status": status,
        "attempts": [{"attempt": n} for n in range(1, attempts + 1)],
    }


def intent(member: str, attempt: int, status: str = "succeeded") -> Intent:
    metadata = {"group_id": GROUP, "contribution_id": f"c-{member}", "attempt": str(attempt)}
    return Intent(f"pi_{member}_{attempt}", status, metadata, f"py_{member}_{attempt}", f"cus_{member}")


def group_with(cycle_status: str, contributions: list[dict[str, Any]]) -> ChaosGroup:
    cycle = {"cycle_number": 1, "cycle_id": "cyc-1", "status": cycle_status, "contributions": contributions}
    admin = Member("ann", {1: cycle})
    others = [Member(c["member_id"], {1: cycle}) for c in contributions if c["member_id"] != "ann"]
    rotation = {"status": "running", "cycles": [{"cycle_number": 1, "status": cycle_status}]}
    return ChaosGroup(1, "chaos group 01", [admin, *others], GROUP, rotation)  # type: ignore[list-item]


def check(group: ChaosGroup, intents: list[Intent], transfers: tuple[Transfer, ...] = ()) -> list[str]:
    by_customer: dict[str, list[Intent]] = {}
    for found in intents:
        by_customer.setdefault(found.customer, []).append(found)
    differences, _ = stripe_books([group], FakeStripe(by_customer, list(transfers)))  # type: ignore[arg-type]
    return differences


def test_one_intent_per_attempt_and_one_transfer_per_charge_of_a_paid_cycle_pass() -> None:
    group = group_with("completed", [contribution("ann", "succeeded", 1), contribution("bo", "succeeded", 2)])
    intents = [intent("ann", 1), intent("bo", 1, "requires_payment_method"), intent("bo", 2)]
    transfers = [Transfer("cycle_cyc-1", "py_ann_1"), Transfer("cycle_cyc-1", "py_bo_2")]

    assert check(group, intents, tuple(transfers)) == []


def test_a_doubled_intent_is_found() -> None:
    group = group_with("paying_out", [contribution("ann", "succeeded", 1)])

    differences = check(group, [intent("ann", 1), intent("ann", 1)])

    assert differences == [
        "chaos group 01 cycle 1: 2 PaymentIntents for ann's attempt 1 (expected exactly one)"
    ]


def test_a_missing_intent_and_an_intent_collections_does_not_show_are_found() -> None:
    group = group_with("paying_out", [contribution("ann", "processing", 1)])
    metadata = {"group_id": GROUP, "contribution_id": "c-ghost", "attempt": "1"}
    stray = Intent("pi_stray", "succeeded", metadata, "py_stray", customer="cus_ann")

    differences = check(group, [stray])

    assert (
        differences[0]
        == "chaos group 01 cycle 1: 0 PaymentIntents for ann's attempt 1 (expected exactly one)"
    )
    assert "pi_stray" in differences[1]


def test_a_success_stripe_does_not_know_of_is_found() -> None:
    group = group_with("paying_out", [contribution("ann", "succeeded", 1)])

    differences = check(group, [intent("ann", 1, "processing")])

    assert differences == ["chaos group 01 cycle 1: ann succeeded, but not on Stripe"]


def test_a_doubled_transfer_and_a_paid_cycle_missing_one_are_found() -> None:
    group = group_with("completed", [contribution("ann", "succeeded", 1), contribution("bo", "succeeded", 1)])
    transfers = [Transfer("cycle_cyc-1", "py_ann_1"), Transfer("cycle_cyc-1", "py_ann_1")]

    differences = check(group, [intent("ann", 1), intent("bo", 1)], tuple(transfers))

    assert "2 transfers of charge py_ann_1 in cycle_cyc-1: one was doubled" in differences
    assert "chaos group 01 cycle 1 is paid, but charge py_ann_1 was not transferred once" in differences
    assert "chaos group 01 cycle 1 is paid, but charge py_bo_1 was not transferred once" in differences
