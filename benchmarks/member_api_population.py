"""The load benchmark's members, made through the gateway as a frontend makes them (not measured).

Every member registers, sets up a BECS mandate from Stripe's always-succeeding test account and
onboards a payout account on the simulator; they form weekly groups, the groups start, and the
simulated clock moves on a day at a time until each group's first pot is paid and its second cycle
is being collected, so that rotations, contributions, ledgers and pots all hold data.
"""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from rosca.demo.cast import BSB, SUCCEEDS
from rosca.demo.gateway import ApiRefusedError, MemberSession
from rosca.demo.simulator import StripeSimulator
from rosca.demo.time_machine import TimeMachine
from rosca.errors import CliError
from rosca.member_tokens import stack_member_token

TIMEZONE = "Australia/Sydney"
CONTRIBUTION = 5_000  # cents
TOKEN_LIFETIME = timedelta(hours=6)
READINESS_STEPS = 60  # of 5 minutes of the clock
# From the day before the first cycle starts (10:00 Sydney): its debits settle on the second
# business day, its pot is paid the business day after, and a week after the first the second
# cycle starts; with a weekend in between, nine days covers all of it.
DAYS_TO_A_PAID_POT = 9
CALLS_AT_ONCE = 8  # members signing up at the same time, as several browsers would

T = TypeVar("T")


@dataclass(frozen=True)
class SeededMember:
    member_id: str
    token: str
    display_name: str

    def as_json(self) -> dict[str, str]:
        return {"member_id": self.member_id, "token": self.token, "display_name": self.display_name}


class Population:
    def __init__(
        self,
        *,
        members: int,
        group_size: int,
        data_dir: Path,
        http: httpx.Client,
        clock: TimeMachine,
        simulator: StripeSimulator,
        say: Callable[[str], None],
    ) -> None:
        if members < group_size:
            raise CliError(f"{members} members cannot fill one group of {group_size}")
        self._clock = clock
        self._simulator = simulator
        self._say = say
        self.seeded = [
            SeededMember(
                member_id=f"load-member-{number:04d}",
                token=stack_member_token(
                    data_dir,
                    f"load-member-{number:04d}",
                    lifetime=TOKEN_LIFETIME,
                    email=f"load-member-{number:04d}@example.com",
                    name=f"Load member {number:04d}",
                ),
                display_name=f"Load member {number:04d}",
            )
            for number in range(members)
        ]
        self._sessions = [MemberSession(http, m.member_id, m.token) for m in self.seeded]
        # Whoever does not fill a last whole group stays signed up but in no group.
        self._groups = [
            self._sessions[start : start + group_size]
            for start in range(0, members - group_size + 1, group_size)
        ]
        self._group_size = group_size

    def seed(self) -> None:
        self._land_at_ten_in_sydney()
        self._sign_up_everyone()
        start = self._sydney_today() + timedelta(days=1)
        group_ids = _at_once(
            self._form_and_start, [(index, group, start) for index, group in enumerate(self._groups)]
        )
        self._say(f"seed: {len(group_ids)} weekly groups of {self._group_size} start on {start:%a %d %b %Y}")
        for day in range(1, DAYS_TO_A_PAID_POT + 1):
            moment = self._clock.advance(timedelta(days=1))
            self._say(f"seed: day {day} of {DAYS_TO_A_PAID_POT} ({moment:%a %d %b})")
        self._say(f"seed: cycles now {self._cycle_tally(group_ids)}")

    def _sign_up_everyone(self) -> None:
        _at_once(self._sign_up, self._sessions)
        for _ in range(READINESS_STEPS):
            unready = [m for m in self._sessions if not m.get("/onboarding/members/me/readiness")["ready"]]
            if not unready:
                self._say(
                    f"seed: {len(self._sessions)} members signed up, mandates and payout accounts ready"
                )
                return
            self._clock.advance(timedelta(minutes=5))
        raise CliError(f"{len(unready)} members not ready after {READINESS_STEPS} steps of 5 minutes")

    def _sign_up(self, member: MemberSession) -> None:
        member.post("/onboarding/members", {})
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
        link = member.post("/onboarding/members/me/payout-account/onboarding-link")
        self._simulator.complete_onboarding(link["url"])

    def _form_and_start(self, job: tuple[int, list[MemberSession], date]) -> str:
        index, members, start = job
        admin = members[0]
        created = admin.post(
            "/onboarding/groups",
            {
                "name": f"load group {index + 1:03d}",
                "contribution_amount": CONTRIBUTION,
                "cadence": "weekly",
                "policy": {
                    "attempt_limit": 2,
                    "retry_spacing_business_days": 1,
                    "collection_window_business_days": 5,
                },
                "size": len(members),
                "start_date": start.isoformat(),
                "timezone": TIMEZONE,
                "payout_order_method": "join_order",
            },
        )
        for member in members[1:]:
            member.post("/onboarding/groups/join", {"invite_code": created["invite_code"]})
        group_id = str(created["group_id"])
        admin.post(f"/onboarding/groups/{group_id}/start")
        return group_id

    def _cycle_tally(self, group_ids: list[str]) -> str:
        statuses: list[str] = []
        for members, group_id in zip(self._groups, group_ids, strict=True):
            try:
                rotation = members[0].get(f"/collections/groups/{group_id}/rotation")
            except ApiRefusedError:  # collections has not heard of the group
                statuses.append("not planned")
                continue
            statuses += [cycle["status"] for cycle in rotation["cycles"]]
        return ", ".join(f"{status} {statuses.count(status)}" for status in sorted(set(statuses)))

    def _land_at_ten_in_sydney(self) -> None:
        """Each day's step then passes the day's 09:00 cycle starts and stays clear of BECS's cut-off."""
        now = self._clock.now().astimezone(ZoneInfo(TIMEZONE))
        ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
        self._clock.advance((ten if ten > now else ten + timedelta(days=1)) - now)

    def _sydney_today(self) -> date:
        return self._clock.now().astimezone(ZoneInfo(TIMEZONE)).date()


def _at_once(call: Callable[[Any], T], jobs: Iterable[Any]) -> list[T]:
    with ThreadPoolExecutor(max_workers=CALLS_AT_ONCE) as pool:
        return list(pool.map(call, jobs))
