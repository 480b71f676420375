"""What the rotation saga hears of a cycle's step: each status the cycle announces, each dispute
it books as the member's debt, and each such debt cleared by a won dispute; nothing else."""

from services.collections.domain.messages import CyclePaid
from services.collections.domain.rotation_messages import CycleReported, ReceivableOpened, ReceivableSettled
from services.collections.service_layer.rotation_steps import rotation_messages_of
from tests.unit.collections.cycle_fixtures import CycleRun, collected_run
from tests.unit.collections.test_collections_saga_disputes import closed, dispute


def _paid_out() -> CycleRun:
    run = collected_run()
    for index in range(3):
        run.succeed(index)
    run.apply(CyclePaid(run.now, 15_000))
    return run


def test_each_announced_status_is_reported_with_its_members() -> None:
    run = collected_run()
    run.succeed(0)
    run.succeed(1)
    before = run.state
    decision = run.succeed(2)
    heard = rotation_messages_of(before, decision, run.now)
    assert len(heard) == 2
    assert [(m.status, m.cycle_id) for m in heard if isinstance(m, CycleReported)] == [
        ("funded", run.state.plan.cycle_id),
        ("paying_out", run.state.plan.cycle_id),
    ]


def test_a_step_that_announces_nothing_tells_the_rotation_nothing() -> None:
    run = collected_run()
    before = run.state
    assert rotation_messages_of(before, run.succeed(0), run.now) == []


def test_a_dispute_after_payout_opens_a_debt_once_and_a_won_dispute_settles_it() -> None:
    run = _paid_out()
    member = run.contribution(1).member_id
    before = run.state
    opened = rotation_messages_of(before, run.apply(dispute(run, 1)), run.now)
    assert opened == [ReceivableOpened(run.now, member, "dp_1", 5_000)]
    before = run.state
    assert rotation_messages_of(before, run.apply(dispute(run, 1)), run.now) == []
    before = run.state
    settled = rotation_messages_of(before, run.apply(closed(run, 1, won=True)), run.now)
    assert settled == [ReceivableSettled(run.now, member, "dp_1", won=True)]


def test_a_dispute_before_payout_is_no_debt() -> None:
    run = collected_run()
    run.succeed(0)
    before = run.state
    heard = rotation_messages_of(before, run.apply(dispute(run, 0)), run.now)
    assert not [m for m in heard if not isinstance(m, CycleReported)]
