"""The chaos run's groups, driven through the gateway as the demo drives its one: members sign up,
each group forms and starts, and the clock moves on a day at a time until every rotation is done.

Every member pays from Stripe's always-succeeding test account, so whatever goes wrong is the
chaos's doing, and each group's correct end is known: every cycle funded and paid.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import stripe

from rosca.chaos.patience import PatientClock, patiently
from rosca.demo.cast import BSB, SUCCEEDS
from rosca.demo.gateway import ApiRefusedError, MemberSession
from rosca.demo.simulator import StripeSimulator
from rosca.errors import CliError
from rosca.member_tokens import stack_member_token

TIMEZONE = "Australia/Sydney"
GROUP_SIZE = 3
CONTRIBUTION = 5_000  # cents
TOKEN_LIFETIME = timedelta(hours=3)
READINESS_STEPS = 60  # of 5 minutes of the clock
STEPS_BETWEEN_SIGN_UP_RETRIES = 6
# After the last cycle starts: its debits settle on the 2nd business day, the pot is handed to payouts
# at once, and paid the business day after (a weekend in between adds two days).
DAYS_AFTER_LAST_START = {"funded": 5, "rotation": 7}

FUNDED = frozenset({"paying_out", "payout_paused", "completed"})


class Goal:
    """What "done" is for a group: its whole rotation paid (``rotation``), or, while payouts pays
    nothing yet, every cycle collected in full and handed to payouts (``funded``)."""

    ROTATION = "rotation"
    FUNDED = "funded"
    ALL = (ROTATION, FUNDED)


def reached(goal: str, rotation: dict[str, Any]) -> bool:
    cycles = rotation["cycles"]
    if not cycles:
        return False
    if goal == Goal.ROTATION:
        return rotation["status"] == "completed" and all(c["status"] == "completed" for c in cycles)
    return all(c["status"] in FUNDED for c in cycles)


@dataclass
class ChaosGroup:
    number: int
    name: str
    members: list[MemberSession]
    group_id: str = ""
    rotation: dict[str, Any] = field(default_factory=dict)

    @property
    def admin(self) -> MemberSession:
        return self.members[0]


class ChaosGroups:
    def __init__(
        self,
        *,
        count: int,
        run_tag: str,
        data_dir: Path,
        http: Any,
        simulator_url: str,
        clock: PatientClock,
        say: Callable[[str], None],
    ) -> None:
        self.clock = clock
        self._simulator = StripeSimulator(simulator_url)
        self._stripe = stripe.StripeClient(
            "sk_test_rosca_chaos",
            base_addresses={"api": simulator_url, "connect": simulator_url},
            max_network_retries=5,
        )
        self._say = say
        self.groups = [
            ChaosGroup(
                number,
                f"chaos {run_tag} group {number:02d}",
                [
                    _session(http, data_dir, f"chaos-{run_tag}-g{number:02d}-m{seat}")
                    for seat in range(GROUP_SIZE)
                ],
            )
            for number in range(1, count + 1)
        ]

    @property
    def members(self) -> list[MemberSession]:
        return [member for group in self.groups for member in group.members]

    def land_at_ten_in_sydney(self) -> None:
        """Each day's step then passes the day's 09:00 cycle starts and stays clear of BECS's cut-off."""
        now = self.clock.now().astimezone(ZoneInfo(TIMEZONE))
        ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
        self.clock.move_to(ten if ten > now else ten + timedelta(days=1))

    def sign_up_everyone(self) -> None:
        for member in self.members:
            member.post("/onboarding/members", {})
            self._complete_missing(member)
        self._say(
            f"chaos: {len(self.members)} members registered; waiting for Stripe to confirm their accounts"
        )
        for step in range(1, READINESS_STEPS + 1):
            unready = [m for m in self.members if not m.get("/onboarding/members/me/readiness")["ready"]]
            if not unready:
                self._say("chaos: every member is ready")
                return
            if step % STEPS_BETWEEN_SIGN_UP_RETRIES == 0:
                for member in unready:
                    self._complete_missing(member)
            self.clock.move_to(self.clock.now() + timedelta(minutes=5))
        missing = {m.member_id: m.get("/onboarding/members/me/readiness")["missing"] for m in unready}
        raise CliError(
            f"members not ready after {READINESS_STEPS} steps of 5 minutes of the clock: {missing}"
        )

    def form_and_start(self) -> None:
        start = self.sydney_today() + timedelta(days=2)
        for group in self.groups:
            invite_code = self._create(group, start)
            for member in group.members[1:]:
                member.post("/onboarding/groups/join", {"invite_code": invite_code})
            group.admin.post(f"/onboarding/groups/{group.group_id}/start", expect=(200, 201, 409))
            status = group.admin.get(f"/onboarding/groups/{group.group_id}")["status"]
            if status != "active":
                raise CliError(f"{group.name} is {status} after its start")
        self._say(f"chaos: {len(self.groups)} weekly groups of {GROUP_SIZE} start on {start:%a %d %b %Y}")
        for _ in range(30):
            if all(self._read_rotation(group) for group in self.groups):
                return
            self.clock.move_to(self.clock.now() + timedelta(minutes=10))
        raise CliError("collections did not plan every group's rotation within 5 hours of the clock")

    def read_rotations(self) -> None:
        for group in self.groups:
            self._read_rotation(group)

    def days_needed(self, goal: str) -> int:
        """About how many days of the clock until every group reaches ``goal`` (the run paces by it)."""
        last_start = max(
            datetime.fromisoformat(c["start_at"]) for g in self.groups for c in g.rotation["cycles"]
        )
        return (last_start - self.clock.now()).days + DAYS_AFTER_LAST_START[goal]

    def next_day(self) -> datetime:
        return self.clock.move_to(self.clock.now() + timedelta(days=1))

    def sydney_today(self) -> date:
        return self.clock.now().astimezone(ZoneInfo(TIMEZONE)).date()

    def close(self) -> None:
        self._simulator.close()

    def _create(self, group: ChaosGroup, start: date) -> str:
        """The group made once: a create whose answer was lost is found by its name, not made again."""
        existing = [g for g in group.admin.get("/onboarding/groups") if g["name"] == group.name]
        if existing:
            group.group_id = str(existing[0]["group_id"])
            return str(group.admin.get(f"/onboarding/groups/{group.group_id}")["invite_code"])
        created = group.admin.post(
            "/onboarding/groups",
            {
                "name": group.name,
                "contribution_amount": CONTRIBUTION,
                "cadence": "weekly",
                "policy": {
                    "attempt_limit": 2,
                    "retry_spacing_business_days": 1,
                    "collection_window_business_days": 5,
                },
                "size": GROUP_SIZE,
                "start_date": start.isoformat(),
                "timezone": TIMEZONE,
                "payout_order_method": "join_order",
            },
        )
        group.group_id = str(created["group_id"])
        return str(created["invite_code"])

    def _onboarded_on_stripe(self, member: MemberSession) -> bool:
        """Whether the member's visit to the onboarding form reached Stripe (then only its
        ``account.updated`` is awaited: asking again would hide its loss)."""
        account_id = member.get("/onboarding/members/me")["payout_account"]["account_id"]
        return bool(self._stripe.v1.accounts.retrieve(account_id).details_submitted)

    def _read_rotation(self, group: ChaosGroup) -> bool:
        try:
            group.rotation = group.admin.get(f"/collections/groups/{group.group_id}/rotation")
        except ApiRefusedError:  # 404 until collections has heard of the group
            return False
        return bool(group.rotation["cycles"])

    def _complete_missing(self, member: MemberSession) -> None:
        """Whatever of the BECS mandate and the payout account the member still misses, asked again.

        A step that failed (its service was killed mid-way) is simply done again: a new SetupIntent,
        a new onboarding link, both harmless.
        """
        missing = member.get("/onboarding/members/me/readiness")["missing"]
        try:
            if "becs_mandate" in missing:
                setup = member.post("/onboarding/members/me/becs/setup-intents")
                member.post(
                    f"/onboarding/members/me/becs/setup-intents/{setup['setup_intent_id']}/confirm",
                    {
                        "bsb_number": BSB,
                        "account_number": SUCCEEDS,
                        "account_holder_name": member.member_id,
                        "mandate_accepted": True,
                    },
                )
            if "payout_account" in missing or (
                "payout_account_onboarding" in missing and not self._onboarded_on_stripe(member)
            ):
                link = member.post("/onboarding/members/me/payout-account/onboarding-link")
                patiently(lambda: self._simulator.complete_onboarding(link["url"]), "the onboarding form")
        except ApiRefusedError as refused:
            self._say(f"chaos: {member.member_id}'s sign-up step refused, asked again later: {refused}")


def _session(http: Any, data_dir: Path, member_id: str) -> MemberSession:
    token = stack_member_token(
        data_dir, member_id, lifetime=TOKEN_LIFETIME, email=f"{member_id}@example.com", name=member_id
    )
    return MemberSession(http, member_id, token)
