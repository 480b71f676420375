"""``rosca demo``: the stack, the members' sessions, the story, then the statement and the checks."""

import secrets
from datetime import timedelta
from pathlib import Path

import httpx

from rosca.demo import scenario
from rosca.demo.cast import CIRCLE, Member
from rosca.demo.gateway import MemberSession
from rosca.demo.narration import Narration
from rosca.demo.simulator import StripeBooks, StripeSimulator
from rosca.demo.stack import demo_stack
from rosca.demo.time_machine import TimeMachine
from rosca.errors import CliError
from rosca.member_tokens import stack_member_token

TOKEN_LIFETIME = timedelta(hours=1)

STORY = (
    scenario.chapter_sign_up,
    scenario.chapter_start,
    scenario.chapter_failed_debits,
    scenario.chapter_deadline,
    scenario.chapter_decision,
    scenario.chapter_restricted_recipient,
    scenario.chapter_dispute,
    scenario.chapter_statement,
    scenario.chapter_checks,
)


def run_demo(data_dir: Path, gateway_port: int) -> None:
    narration = Narration(chapters=len(STORY))
    with demo_stack(data_dir, gateway_port, narration.console.print) as stack:
        if not stack.stripe_api_base_url:
            raise CliError("the demo needs the Stripe simulator; this stack talks to Stripe itself")
        simulator = StripeSimulator(stack.stripe_api_base_url)
        with (
            httpx.Client(base_url=stack.gateway_url, timeout=30) as http,
            TimeMachine(stack.nats_url, stack.namespace, simulator) as clock,
            narration,
        ):
            # Fresh member ids each run, so a demo on a stack that has run one before starts clean.
            run_tag = secrets.token_hex(3)
            sessions = {member.key: _signed_in(http, data_dir, member, run_tag) for member in CIRCLE}
            books = StripeBooks(stack.stripe_api_base_url)
            operator = scenario.Operator(data_dir)
            circle = scenario.Circle(
                sessions,
                clock=clock,
                simulator=simulator,
                stripe=books,
                narration=narration,
                operator=operator,
            )
            narration.today(clock.now())
            for chapter in STORY:
                chapter(circle)
                narration.chapter_done()
        simulator.close()


def _signed_in(http: httpx.Client, data_dir: Path, member: Member, run_tag: str) -> MemberSession:
    member_id = f"{member.key}-{run_tag}"
    token = stack_member_token(
        data_dir, member_id, lifetime=TOKEN_LIFETIME, email=f"{member_id}@example.com", name=member.name
    )
    return MemberSession(http, member_id, token)
