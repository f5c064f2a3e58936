"""Which duplicate MLflow run is kept (pure), and which remote errors a race explains."""

from __future__ import annotations

import pytest
from localtrack_daemon.converge import Choice, RemoteRun, choose, refuse_deleted
from localtrack_daemon.remote import classify, is_race

from localtrack._errors import NeedsPerson, RetryLater


def run(rid: str, start: int = 1000, active: bool = True, dup_of: str | None = None) -> RemoteRun:
    return RemoteRun(rid, "1", start, active, duplicate_of=dup_of)


def test_the_earliest_started_run_is_kept_ties_by_run_id_whatever_the_order():
    runs = [run("c"), run("b"), run("z", start=999), run("a", active=False)]
    for order in (runs, runs[::-1], runs[1:] + runs[:1]):
        choice = choose(order)
        assert choice.keep == run("z", start=999)
        assert [r.run_id for r in choice.duplicates] == ["b", "c"]
        assert [r.run_id for r in choice.deleted] == ["a"]
    assert choose([run("c"), run("b")]).keep == run("b")


def test_every_view_of_the_same_runs_keeps_a_run_no_other_view_deletes():
    """Two syncers that saw different subsets (one before a later creation) never delete
    the run the other keeps, so one run always survives."""
    everything = [run("r1"), run("r2"), run("r3")]
    survivors = set(r.run_id for r in everything)
    for seen in ([everything[1], everything[2]], everything, [everything[0]]):
        survivors -= {r.run_id for r in choose(seen).duplicates}
    assert survivors == {"r1"}


def test_no_active_run_and_one_deleted_by_a_person_needs_a_person():
    assert choose([]) == Choice(None)
    refuse_deleted(choose([run("x", active=False, dup_of="gone")]), "http://m")  # ours: recreate
    with pytest.raises(NeedsPerson, match="mlflow runs restore"):
        refuse_deleted(choose([run("x", active=False)]), "http://m")


def test_a_lost_insert_race_is_retried_and_a_changed_param_needs_a_person():
    race = '{"error_code": "BAD_REQUEST", "message": "(sqlite3.IntegrityError) UNIQUE constraint failed: params.key, params.run_uuid"}'
    err = classify(400, race, "runs/log-batch")
    assert isinstance(err, RetryLater) and is_race(err)
    pg = '{"error_code": "BAD_REQUEST", "message": "(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint \\"param_pk\\""}'
    assert isinstance(classify(400, pg, "runs/log-batch"), RetryLater)
    changed = '{"error_code": "INVALID_PARAMETER_VALUE", "message": "Changing param values is not allowed. Params were already logged"}'
    err = classify(400, changed, "runs/log-batch")
    assert isinstance(err, NeedsPerson) and not is_race(err)
    exists = (
        '{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Experiment(name=x) already exists."}'
    )
    assert is_race(classify(400, exists, "experiments/create"))
