"""Automatic payouts: each interval, every connected account on a daily schedule is paid out its
whole available balance, unless payouts are disabled or its bank account is errored."""

from simulators.stripe_sim.resources import balance_transactions, external_accounts
from simulators.stripe_sim.resources.payouts import start_payout
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.due_work import DueWork

RUN_AUTOMATIC_PAYOUTS = "run_automatic_payouts"


def keep_scheduled(sim: Simulator) -> None:
    """At start: make sure the recurring sweep is queued (it survives restarts with the queue)."""
    if not sim.due_work.pending_of_kind(RUN_AUTOMATIC_PAYOUTS):
        due = sim.now().timestamp() + sim.settings.automatic_payout_interval_seconds
        sim.due_work.schedule(due, RUN_AUTOMATIC_PAYOUTS, {})
        sim.commit()


def run_automatic_payouts(sim: Simulator, work: DueWork) -> None:
    for account in list(sim.objects.newest_first("account", None)):
        schedule = account.body["settings"]["payouts"]["schedule"]
        if account.internal.get("deleted") or schedule["interval"] != "daily":
            continue
        if not account.body["payouts_enabled"]:
            continue
        bank = external_accounts.default_of(sim, account.id)
        if bank is None or bank.body["status"] == "errored":
            continue
        available, _ = balance_transactions.available_and_pending(sim, account.id)
        if available > 0:
            start_payout(sim, account, bank, available, automatic=True)
    sim.due_work.schedule(
        work.due_at + sim.settings.automatic_payout_interval_seconds, RUN_AUTOMATIC_PAYOUTS, {}
    )
