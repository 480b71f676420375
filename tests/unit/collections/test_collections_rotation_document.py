"""The rotation saga's state survives its JSONB document: every field, every kind of decision."""

from services.collections.domain.rotation_messages import ReceivableOpened
from services.collections.store.rotation_state import state_document, state_of
from tests.unit.collections.rotation_fixtures import RotationRun, cancelled_first_round, member, rotation


def _round_trips(run: RotationRun) -> None:
    assert state_of(state_document(run.state)) == run.state


def test_a_fresh_rotation_round_trips() -> None:
    _round_trips(rotation())


def test_each_kind_of_decision_is_read_back_as_that_kind() -> None:
    # A dissolution's fields are a subset of a retry's: read by shape, it would come back a retry.
    retried = rotation(4)
    cancelled_first_round(retried, member(retried, 2))
    retried.retry(retried.cycle(0))
    removed = rotation(4)
    cancelled_first_round(removed, member(removed, 2))
    removed.remove(removed.cycle(0), member(removed, 2))
    dissolved = rotation(4)
    cancelled_first_round(dissolved, member(dissolved, 2))
    dissolved.dissolve(dissolved.cycle(0))
    for run in (retried, removed, dissolved):
        assert run.state.decisions
        _round_trips(run)


def test_debts_and_held_payouts_round_trip() -> None:
    run = rotation(3)
    run.apply(ReceivableOpened(run.now, member(run, 2), "dp_1", 5_000))
    first = run.cycle(0)
    run.pay(first)
    run.report(run.cycle(0), "funded")
    _round_trips(run)
