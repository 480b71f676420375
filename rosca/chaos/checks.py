"""What the chaos run checks at its end, once every fault is over and the stack is quiet.

Each check returns the differences it found, one line each; none means it passed.

- every group at its correct end (``circles.reached``);
- Stripe's books, read with the official SDK: exactly one PaymentIntent per contribution attempt
  collections shows, none it does not, each succeeded contribution's debit succeeded on Stripe;
  never two transfers of one charge in one cycle (payouts' ``payout-<cycle>-<charge>`` key), and, for
  a paid cycle, one transfer of each of its succeeded charges;
- no message given up on (the DEADLETTER stream is empty);
- the money checker (``rosca.money_checker``, from reconciliation) on collections' books, when it
  is there.
"""

import asyncio
import importlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import nats
import stripe

from contracts.streams import DEADLETTER
from rosca.chaos.circles import ChaosGroup, reached
from rosca.stack.local_secrets import read_env_file
from rosca.stack.state import StackState, service_environment_path
from services.runtime.naming import Namespace

SUCCEEDED = frozenset({"succeeded"})
PAID = "completed"


def stripe_client(base_url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_rosca_chaos", base_addresses={"api": base_url, "connect": base_url}, max_network_retries=5
    )


def terminal_states(groups: list[ChaosGroup], goal: str) -> list[str]:
    differences = []
    for group in groups:
        if not reached(goal, group.rotation):
            cycles = ", ".join(
                f"{c['cycle_number']}: {c['status']}" for c in group.rotation.get("cycles", [])
            )
            differences.append(
                f"{group.name} ({group.group_id}) did not reach its end ({goal}): rotation "
                f"{group.rotation.get('status')}, cycles {cycles or 'none'}"
            )
    return differences


def stripe_books(groups: list[ChaosGroup], client: stripe.StripeClient) -> tuple[list[str], dict[str, int]]:
    """The differences between what collections shows and Stripe's books, and what was counted."""
    differences: list[str] = []
    counted: Counter[str] = Counter()
    transfers = list(client.v1.transfers.list({"limit": 100}).auto_paging_iter())
    counted["transfers"] = len(transfers)
    per_charge = Counter((t.transfer_group, _source(t)) for t in transfers)
    for (transfer_group, charge), count in per_charge.items():
        if count > 1:
            differences.append(f"{count} transfers of charge {charge} in {transfer_group}: one was doubled")
    for group in groups:
        intents = _intents_of(group, client)
        counted["payment_intents"] += sum(len(found) for found in intents.values())
        shown: set[str] = set()
        for cycle_number in (
            c["cycle_number"] for c in group.rotation["cycles"] if c["status"] != "scheduled"
        ):
            cycle = group.admin.get(f"/collections/groups/{group.group_id}/cycles/{cycle_number}")
            shown.update(c["contribution_id"] for c in cycle["contributions"])
            counted["attempts"] += _check_cycle(group, cycle, intents, per_charge, differences)
        for (contribution_id, attempt), found in intents.items():
            if contribution_id not in shown:
                differences.append(
                    f"{group.name}: PaymentIntent(s) {', '.join(i.id for i in found)} for contribution "
                    f"{contribution_id} attempt {attempt}, which collections does not show"
                )
    return differences, dict(counted)


def dead_letters(state: StackState) -> list[str]:
    return asyncio.run(_dead_letters(state))


def money_checker(data_dir: Path, client: stripe.StripeClient) -> list[str] | None:
    """The money checker's violations, or None while the project has no money checker yet."""
    try:
        check = importlib.import_module("rosca.money_checker.check")
    except ModuleNotFoundError:
        return None
    settings = read_env_file(service_environment_path(data_dir, "collections"))
    report = asyncio.run(check.check_money(settings["ROSCA_COLLECTIONS_DATABASE_URL"], client))
    return [str(violation) for violation in report.violations]


def _check_cycle(
    group: ChaosGroup,
    cycle: dict[str, Any],
    intents: dict[tuple[str, str], list[Any]],
    transfers: Counter[tuple[str | None, str | None]],
    differences: list[str],
) -> int:
    attempts = 0
    where = f"{group.name} cycle {cycle['cycle_number']}"
    for contribution in cycle["contributions"]:
        for attempt in contribution["attempts"]:
            attempts += 1
            found = intents.get((contribution["contribution_id"], str(attempt["attempt"])), [])
            if len(found) != 1:
                differences.append(
                    f"{where}: {len(found)} PaymentIntents for {contribution['member_id']}'s attempt "
                    f"{attempt['attempt']} (expected exactly one)"
                )
        latest = intents.get((contribution["contribution_id"], str(len(contribution["attempts"]))), [])
        if contribution["status"] in SUCCEEDED:
            if not any(intent.status == "succeeded" for intent in latest):
                differences.append(f"{where}: {contribution['member_id']} succeeded, but not on Stripe")
            elif cycle["status"] == PAID:
                charge = str(next(i.latest_charge for i in latest if i.status == "succeeded"))
                if transfers[(f"cycle_{cycle['cycle_id']}", charge)] != 1:
                    differences.append(f"{where} is paid, but charge {charge} was not transferred once")
    return attempts


def _intents_of(group: ChaosGroup, client: stripe.StripeClient) -> dict[tuple[str, str], list[Any]]:
    """The group's PaymentIntents on Stripe, by (contribution id, attempt) from their metadata."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for member in group.members:
        customer = member.get("/onboarding/members/me")["stripe_customer_id"]
        for intent in client.v1.payment_intents.list({"customer": customer, "limit": 100}).auto_paging_iter():
            metadata: dict[str, str] = intent.to_dict().get("metadata") or {}
            if "contribution_id" in metadata and metadata.get("group_id") == group.group_id:
                found[(metadata["contribution_id"], metadata["attempt"])].append(intent)
    return found


def _source(transfer: Any) -> str | None:
    source = transfer.source_transaction
    return source if source is None or isinstance(source, str) else str(source.id)


async def _dead_letters(state: StackState) -> list[str]:
    client = await nats.connect(state.nats_url.split(","), name="rosca-chaos-check", connect_timeout=5)
    try:
        js = client.jetstream()
        stream = Namespace(state.namespace).stream(DEADLETTER.name)
        info = await js.stream_info(stream, subjects_filter=">")
        subjects = info.state.subjects or {}
        return [f"{count} message(s) dead-lettered on {subject}" for subject, count in subjects.items()]
    finally:
        await client.close()
