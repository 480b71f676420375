"""The demo's story, chapter by chapter: what the members do, what goes wrong, and what they see."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rosca.demo.cast import ALICE, BO, BSB, CIRCLE, CONTRIBUTION, CY, DEE, SUCCEEDS, Member
from rosca.demo.checks import money_checks, reconcile_group
from rosca.demo.gateway import ApiRefusedError, MemberSession
from rosca.demo.narration import Narration
from rosca.demo.simulator import StripeBooks, StripeSimulator
from rosca.demo.statement import print_statement, read_statement
from rosca.demo.time_machine import TimeMachine
from rosca.errors import CliError

TIMEZONE = "Australia/Sydney"
ONE_DAY = timedelta(days=1)
COLLECTED = ("succeeded", "refund_pending", "refunded")
CHAPTERS = 8


class DemoFailedError(CliError):
    """The circle did not do what the story expects of it."""


class Circle:
    """The demo's members and their group, seen and moved only through the gateway and the clock."""

    def __init__(
        self,
        sessions: dict[str, MemberSession],
        *,
        clock: TimeMachine,
        simulator: StripeSimulator,
        stripe: StripeBooks,
        narration: Narration,
        operator: "Operator",
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.simulator = simulator
        self.stripe = stripe
        self.operator = operator
        self.narration = narration
        self.group_id = ""

    def as_(self, member: Member) -> MemberSession:
        return self.sessions[member.key]

    def id_of(self, member: Member) -> str:
        return self.as_(member).member_id

    def name_of(self, member_id: str) -> str:
        names = {self.id_of(m): m.name for m in CIRCLE}
        return names.get(member_id, member_id)

    # What the members see -------------------------------------------------------------------

    def rotation(self) -> dict[str, Any]:
        rotation: dict[str, Any] = self.as_(ALICE).get(f"/collections/groups/{self.group_id}/rotation")
        return rotation

    def cycle(self, number: int) -> dict[str, Any]:
        cycle: dict[str, Any] = self.as_(ALICE).get(f"/collections/groups/{self.group_id}/cycles/{number}")
        return cycle

    def contribution(self, number: int, member: Member) -> dict[str, Any]:
        for contribution in self.cycle(number)["contributions"]:
            if contribution["member_id"] == self.id_of(member):
                return dict(contribution)
        raise DemoFailedError(f"cycle {number} has no contribution of {member.name}")

    def pot_of(self, member: Member, number: int) -> dict[str, Any]:
        """The member's pot of cycle ``number``, as payouts shows it to them."""
        pots = self.as_(member).get("/payouts/members/me/pots")
        for pot in (*pots["received"], *pots["in_progress"]):
            if pot["group_id"] == self.group_id and pot["cycle_number"] == number:
                return dict(pot)
        raise DemoFailedError(f"payouts shows {member.name} no pot of cycle {number}")

    def describe_pot(self, member: Member, number: int) -> str:
        pot = self.pot_of(member, number)
        banked = [b["status"] for t in pot["transfers"] for b in t["bank_payouts"]]
        told = (
            f"{member.name}'s pot {pot['status']}: AUD {pot['transfer_total'] / 100:.2f} "
            f"in {len(pot['transfers'])} transfers to their Stripe account"
        )
        return told + (f", bank payout {banked[-1]}" if banked else "")

    def status_of(self, number: int, member: Member) -> str:
        return str(self.contribution(number, member)["status"])

    # Time ----------------------------------------------------------------------------------

    def wait_until(
        self, condition: Callable[[], bool], what: str, *, step: timedelta = ONE_DAY, within: int = 21
    ) -> None:
        """Move the clock a step at a time until ``condition`` holds, at most ``within`` steps."""
        self.narration.waiting_for(what)
        for _ in range(within):
            if condition():
                self.narration.waiting_for("")
                return
            self.narration.today(self.clock.advance(step))
        if not condition():
            raise DemoFailedError(f"gave up waiting for {what} after {within} steps of {step}")
        self.narration.waiting_for("")

    def jump_to_start_of(self, number: int) -> None:
        """Move the clock straight to just after cycle ``number``'s start: nothing happens before."""
        start = datetime.fromisoformat(self.cycle(number)["start_at"]) + timedelta(hours=1)
        if start > (now := self.clock.now()):
            self.narration.today(self.clock.advance(start - now))

    def sydney_today(self) -> date:
        return self.clock.now().astimezone(ZoneInfo(TIMEZONE)).date()


def sign_up(circle: Circle, member: Member) -> None:
    """Register, authorise BECS Direct Debit, open the payout account: onboarding's three steps."""
    session = circle.as_(member)
    session.post("/onboarding/members", {})
    authorise_bank_account(circle, member, member.bank_account)
    open_payout_account(circle, member)


def authorise_bank_account(circle: Circle, member: Member, account_number: str) -> None:
    session = circle.as_(member)
    setup = session.post("/onboarding/members/me/becs/setup-intents")
    session.post(
        f"/onboarding/members/me/becs/setup-intents/{setup['setup_intent_id']}/confirm",
        {
            "bsb_number": BSB,
            "account_number": account_number,
            "account_holder_name": member.name,
            "mandate_accepted": True,
        },
    )


def open_payout_account(circle: Circle, member: Member) -> str:
    link = circle.as_(member).post("/onboarding/members/me/payout-account/onboarding-link")
    circle.simulator.complete_onboarding(link["url"])
    account_id: str = link["account_id"]
    return account_id


def chapter_sign_up(circle: Circle) -> None:
    circle.narration.chapter("1. Four friends sign up")
    # Each step of the story moves the clock by whole days; landing at 10:00 in Sydney, each step
    # passes the day's 09:00 cycle starts and stays clear of BECS's 18:30 cut-off.
    now = circle.clock.now().astimezone(ZoneInfo(TIMEZONE))
    ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
    circle.narration.today(circle.clock.advance((ten if ten > now else ten + ONE_DAY) - now))
    for member in CIRCLE:
        sign_up(circle, member)
        circle.narration.say(f"{member.name} registered, authorised a BECS debit, opened a payout account")

    def everyone_ready() -> bool:
        return all(circle.as_(m).get("/onboarding/members/me/readiness")["ready"] for m in CIRCLE)

    circle.wait_until(everyone_ready, "Stripe to confirm every account", step=timedelta(minutes=5))
    circle.narration.say("Stripe confirmed every payout account: everyone is ready")


def chapter_start(circle: Circle) -> None:
    circle.narration.chapter("2. Alice starts a monthly circle")
    start = circle.sydney_today() + timedelta(days=2)
    group = circle.as_(ALICE).post(
        "/onboarding/groups",
        {
            "name": "Demo circle",
            "contribution_amount": CONTRIBUTION,
            "cadence": "monthly",
            # Two attempts a debit, a business day apart, within 12 business days: room for a failure
            # (up to 4 business days to come back), a new authorisation and a second debit, and
            # the deadline still well before the next cycle starts, so one cycle's trouble stays its own.
            "policy": {
                "attempt_limit": 2,
                "retry_spacing_business_days": 1,
                "collection_window_business_days": 12,
            },
            "size": len(CIRCLE),
            "start_date": start.isoformat(),
            "timezone": TIMEZONE,
            "payout_order_method": "join_order",
        },
    )
    circle.group_id = group["group_id"]
    for member in CIRCLE[1:]:
        circle.as_(member).post("/onboarding/groups/join", {"invite_code": group["invite_code"]})
    circle.as_(ALICE).post(f"/onboarding/groups/{circle.group_id}/start")
    circle.narration.say(
        f"AUD {CONTRIBUTION / 100:.2f} a month each from {start:%a %d %b}; pots in join order: "
        + ", ".join(m.name for m in CIRCLE)
    )

    def planned() -> bool:
        try:
            return bool(circle.rotation()["cycles"])
        except ApiRefusedError:  # 404 until collections has heard of the group
            return False

    circle.wait_until(planned, "collections to plan the rotation", step=timedelta(minutes=10), within=6)
    for cycle in circle.rotation()["cycles"]:
        circle.narration.say(
            f"cycle {cycle['cycle_number']}: pot to {circle.name_of(cycle['recipient_member_id'])}, "
            f"debits from {cycle['starts_on']}, deadline {cycle['deadline_on']}"
        )


def chapter_failed_debits(circle: Circle) -> None:
    circle.narration.chapter("3. Cycle 1: two debits fail")
    circle.jump_to_start_of(1)
    circle.wait_until(lambda: circle.cycle(1)["status"] == "collecting", "cycle 1 to start")
    circle.narration.say("cycle 1 started: four BECS debits asked of Stripe")

    circle.wait_until(lambda: circle.status_of(1, BO) == "awaiting_mandate", "the banks to answer")
    dee = circle.contribution(1, DEE)
    first = dee["attempts"][0]
    circle.narration.say(
        f"Dee's debit failed: {first['failure_code']} (insufficient funds); collections retries it "
        f"a business day later (now {dee['status']}, {len(dee['attempts'])} attempt(s) so far)"
    )
    circle.narration.say(
        f"Bo's debit failed: {circle.contribution(1, BO)['failure_code']}; his mandate ended, so "
        "collections waits for him to authorise another account"
    )
    authorise_bank_account(circle, BO, SUCCEEDS)
    circle.narration.say("Bo authorised his new bank account; his debit is asked again at once")

    def bo_answered() -> bool:
        attempts = circle.contribution(1, BO)["attempts"]
        return len(attempts) == 2 and attempts[-1]["status"] not in ("pending", "processing")

    circle.wait_until(bo_answered, "Bo's new debit")
    status = circle.contribution(1, BO)["attempts"][-1]["status"]
    # Collected, it may already be on its way back: the cycle is refunded once it cannot be funded.
    circle.narration.say(f"Bo's new debit: {'succeeded' if status in COLLECTED else status}")
    circle.wait_until(lambda: circle.status_of(1, DEE) == "failed_final", "Dee's retry")
    attempts = len(circle.contribution(1, DEE)["attempts"])
    circle.narration.say(f"Dee's retry failed too: {attempts} attempts, the group's limit; she cannot pay")


def chapter_deadline(circle: Circle) -> None:
    circle.narration.chapter("4. Cycle 1 cannot be funded: everyone who paid is refunded")

    def cancelled() -> bool:
        waiting = circle.rotation()["status"] == "awaiting_admin_decision"
        return bool(waiting and circle.cycle(1)["status"] == "cancelled")

    circle.wait_until(cancelled, "cycle 1's deadline and its refunds")
    cycle = circle.cycle(1)
    refunded = [circle.name_of(c["member_id"]) for c in cycle["contributions"] if c["status"] == "refunded"]
    circle.narration.say(
        f"with Dee's attempts spent, cycle 1 cannot be funded by {cycle['deadline_on']}: collections "
        f"refunded AUD {cycle['refunded'] / 100:.2f} to {', '.join(refunded)} without waiting for the "
        "deadline; the circle waits for Alice's decision"
    )


def chapter_decision(circle: Circle) -> None:
    circle.narration.chapter("5. Alice removes Dee; cycle 1 runs again and pays Alice")
    cancelled = circle.cycle(1)
    decision = circle.as_(ALICE).post(
        f"/collections/groups/{circle.group_id}/decisions",
        {"decision": "remove_members", "cycle_id": cancelled["cycle_id"], "member_ids": [circle.id_of(DEE)]},
    )
    circle.narration.say(
        f"decision taken: {', '.join(map(circle.name_of, decision['removed_member_ids']))} removed; "
        f"the circle goes on with {', '.join(map(circle.name_of, decision['member_ids']))}"
    )

    def paid() -> bool:
        cycle = circle.cycle(1)
        return bool(cycle["cycle_id"] != cancelled["cycle_id"] and cycle["status"] == "completed")

    circle.wait_until(paid, "the new round of cycle 1 to be collected and paid out")
    cycle = circle.cycle(1)
    circle.narration.say(f"cycle 1 collected AUD {cycle['collected'] / 100:.2f} and paid Alice her pot")
    circle.narration.say(circle.describe_pot(ALICE, 1))


def chapter_restricted_recipient(circle: Circle) -> None:
    circle.narration.chapter("6. Cycle 2: Bo's payout account is restricted, then fixed")
    circle.jump_to_start_of(2)
    account_id = circle.as_(BO).get("/onboarding/members/me")["payout_account"]["account_id"]
    circle.simulator.restrict_account(account_id)
    circle.narration.say("Stripe restricted Bo's payout account: it wants more details from him")
    circle.wait_until(lambda: circle.cycle(2)["status"] == "payout_paused", "cycle 2 to be funded")
    cycle = circle.cycle(2)
    missing = circle.as_(BO).get("/onboarding/members/me/readiness")["missing"]
    circle.narration.say(
        f"cycle 2 collected AUD {cycle['collected'] / 100:.2f}; its payout is paused, waiting on "
        f"{cycle['waiting_on']} (Bo's onboarding asks him for: {', '.join(missing)})"
    )
    pot = circle.pot_of(BO, 2)
    circle.narration.say(f"payouts shows Bo his pot {pot['status']}: {pot['reason']}")
    open_payout_account(circle, BO)
    circle.narration.say("Bo followed a new onboarding link and gave Stripe what it asked for")
    circle.wait_until(lambda: circle.cycle(2)["status"] == "completed", "Bo's pot", step=timedelta(hours=6))
    circle.narration.say(f"cycle 2 paid out: {circle.describe_pot(BO, 2)}")


def chapter_dispute(circle: Circle) -> None:
    circle.narration.chapter("7. Cy disputes a debit already paid out; her own pot waits until she pays")
    charge_id = circle.stripe.succeeded_charge_of(circle.as_(CY), cycle_number=2)
    circle.simulator.dispute_charge(charge_id)
    circle.narration.say("Cy told her bank she did not authorise her cycle 2 debit; BECS disputes are final")
    debt_path = f"/collections/groups/{circle.group_id}/members/me/debt"
    circle.wait_until(
        lambda: circle.as_(CY).get(debt_path)["owed"] > 0,
        "the dispute to reach collections",
        step=timedelta(hours=1),
    )
    debt = circle.as_(CY).get(debt_path)
    circle.narration.say(
        f"Bo was already paid, so Cy owes the group AUD {debt['owed'] / 100:.2f} "
        f"(delinquent: {debt['delinquent']})"
    )
    circle.jump_to_start_of(3)
    circle.wait_until(
        lambda: circle.cycle(3)["status"] in ("paying_out", "payout_paused"), "cycle 3 to be funded"
    )
    circle.wait_until(lambda: circle.pot_of(CY, 3)["status"] == "held", "payouts to hold Cy's pot", within=3)
    circle.narration.say(f"cycle 3 is funded; payouts holds Cy's pot: {circle.pot_of(CY, 3)['reason']}")
    circle.as_(CY).post(f"{debt_path}/payments", idempotency_key=f"{circle.group_id}-cy-pays-her-debt")
    circle.narration.say("Cy asked to pay her debt: a debit from her bank account")
    circle.wait_until(lambda: circle.as_(CY).get(debt_path)["owed"] == 0, "Cy's debt debit")
    circle.narration.say("Cy's debt is paid: she is no longer delinquent and her pot is released")
    circle.wait_until(lambda: circle.cycle(3)["status"] == "completed", "Cy's pot", step=timedelta(hours=6))
    circle.wait_until(
        lambda: circle.rotation()["status"] == "completed",
        "the rotation to complete",
        step=timedelta(hours=6),
    )
    circle.narration.say(f"cycle 3 paid out: {circle.describe_pot(CY, 3)}")
    circle.narration.say("everyone still in the circle has received once: the rotation is complete")


def chapter_statement(circle: Circle) -> None:
    circle.narration.chapter("8. The statement: where every cent went")
    recipients = ((ALICE, 1), (BO, 2), (CY, 3))

    def banked() -> bool:
        return all(
            b["status"] == "paid"
            for member, number in recipients
            for t in circle.pot_of(member, number)["transfers"]
            for b in t["bank_payouts"][-1:]
        ) and all(circle.pot_of(m, n)["transfers"][0]["bank_payouts"] for m, n in recipients)

    circle.wait_until(banked, "Stripe to pay each pot out to its recipient's bank", within=7)
    for member, number in recipients:
        circle.narration.say(circle.describe_pot(member, number))
    sessions = {circle.id_of(member): circle.as_(member) for member in CIRCLE}
    print_statement(circle.narration.console, read_statement(circle.group_id, sessions), circle.name_of)


@dataclass(frozen=True)
class Operator:
    """What the platform's operator reaches beside Stripe's books: the stack's data dir."""

    data_dir: Path


def chapter_checks(circle: Circle) -> None:
    circle.narration.chapter("9. The books checked")
    operator = circle.operator
    circle.narration.say(money_checks(operator.data_dir, circle.stripe.client))
    for line in reconcile_group(operator.data_dir, circle.group_id).splitlines():
        circle.narration.say(line)
