"""The circle's statement, from what its members can read through the API: where every cent went.

Per cycle (each round of it): what was collected into the pot, Stripe's fees (the platform's cost,
never the pot's), the platform's fee, what was transferred to the recipient and what was refunded.
Per member: what they paid in, what came back to them as refunds, what they received as a pot and
what they owe the group. Amounts come from the group's ledger; which round a cycle id is, and
whose contributions were refunded, from each member's own contributions.
"""

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from rosca.demo.gateway import MemberSession

PAGE = 500


@dataclass(frozen=True)
class CycleLine:
    number: int
    cycle_id: str
    recipient: str
    status: str
    collected: int
    stripe_fees: int
    platform_fees: int
    transferred: int
    refunded: int


@dataclass(frozen=True)
class MemberLine:
    member_id: str
    paid_in: int
    refunded: int
    received: int
    owes: int


@dataclass(frozen=True)
class Statement:
    currency: str
    cycles: tuple[CycleLine, ...]
    members: tuple[MemberLine, ...]


def read_statement(group_id: str, sessions: Mapping[str, MemberSession]) -> Statement:
    """``sessions``: every member of the group, by member id (the first one reads the group's books)."""
    reader = next(iter(sessions.values()))
    rotation = reader.get(f"/collections/groups/{group_id}/rotation")
    recipients = {c["cycle_number"]: c["recipient_member_id"] for c in rotation["cycles"]}
    rounds: dict[str, tuple[int, str]] = {}
    refunded_to: dict[str, int] = defaultdict(int)
    for member_id, session in sessions.items():
        for contribution in _own_contributions(session, group_id):
            rounds[contribution["cycle_id"]] = (contribution["cycle_number"], contribution["cycle_status"])
            if contribution["status"] == "refunded":
                refunded_to[member_id] += contribution["amount"]
    per_cycle: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_member: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in _ledger(reader, group_id):
        kind, _, key = entry["account"].partition(":")
        if entry["cycle_id"] is not None:
            if kind == "cycle_pot" and entry["step"] == "debit-collected":
                per_cycle[entry["cycle_id"]]["collected"] += entry["amount"]
            elif kind == "stripe_fees":
                per_cycle[entry["cycle_id"]]["stripe_fees"] += entry["amount"]
        if kind in ("platform_fees", "transfers", "refunds"):
            per_cycle[key][kind] += entry["amount"]
        elif kind == "member_contributions":
            per_member[key]["paid_in"] -= entry["amount"]
        elif kind == "dispute_receivable":
            per_member[key]["owes"] += entry["amount"]
    cycles = []
    for cycle_id, (number, status) in sorted(
        rounds.items(), key=lambda item: (item[1][0], item[1][1] != "cancelled")
    ):
        if status == "scheduled":
            continue
        sums = per_cycle[cycle_id]
        recipient = recipients.get(number, "")
        per_member[recipient]["received"] += sums["transfers"]
        cycles.append(
            CycleLine(
                number,
                cycle_id,
                recipient,
                status,
                sums["collected"],
                sums["stripe_fees"],
                sums["platform_fees"],
                sums["transfers"],
                sums["refunds"],
            )
        )
    members = tuple(
        MemberLine(
            member_id,
            per_member[member_id]["paid_in"],
            refunded_to[member_id],
            per_member[member_id]["received"],
            per_member[member_id]["owes"],
        )
        for member_id in sessions
    )
    return Statement(rotation["currency"], tuple(cycles), members)


def print_statement(console: Console, statement: Statement, name_of: Callable[[str], str]) -> None:
    cycles = Table(title="Cycles", title_justify="left")
    for column in ("cycle", "recipient", "status"):
        cycles.add_column(column)
    for column in ("collected", "Stripe fees", "platform fee", "transferred", "refunded"):
        cycles.add_column(column, justify="right")
    for c in statement.cycles:
        cycles.add_row(
            str(c.number),
            name_of(c.recipient),
            c.status,
            _money(c.collected),
            _money(c.stripe_fees),
            _money(c.platform_fees),
            _money(c.transferred),
            _money(c.refunded),
        )
    members = Table(title="Members", title_justify="left")
    members.add_column("member")
    for column in ("paid in", "refunded", "received", "owes the group"):
        members.add_column(column, justify="right")
    for m in statement.members:
        members.add_row(
            name_of(m.member_id), _money(m.paid_in), _money(m.refunded), _money(m.received), _money(m.owes)
        )
    console.print(cycles)
    console.print(members)
    console.print(
        f"Amounts in {statement.currency.upper()}. Stripe's fees are the platform's cost, not the pot's; "
        "a cycle run again shows each round."
    )


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _ledger(session: MemberSession, group_id: str) -> list[dict[str, Any]]:
    return _every_page(session, f"/collections/groups/{group_id}/ledger", "entries")


def _own_contributions(session: MemberSession, group_id: str) -> list[dict[str, Any]]:
    every = _every_page(session, "/collections/members/me/contributions", "contributions")
    return [c for c in every if c["group_id"] == group_id]


def _every_page(session: MemberSession, path: str, items: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE} | ({"after": after} if after is not None else {})
        page = session.get(path, **params)
        found.extend(page[items])
        after = page["next_after"]
        if after is None:
            return found
