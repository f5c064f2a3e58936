import datetime as dt
import json

import pyarrow as pa
from localtrack_daemon.trials import trials


def table(rows):
    t0 = dt.datetime(2026, 1, 1)
    return pa.table(
        {
            "step": [r[0] for r in rows],
            "wall_time": pa.array([t0] * len(rows), pa.timestamp("us")),
            "hparams": [json.dumps(r[1]) for r in rows],
            "metrics": [json.dumps(r[2]) for r in rows],
            "run_name": [r[3] for r in rows],
            "writer": ["w1"] * len(rows),
            "seq": [0] * len(rows),
        }
    )


def test_each_row_is_one_trial_with_flattened_params_and_numeric_metrics():
    got = trials(table([(3, {"opt": {"lr": 0.1}, "name": "a"}, {"acc": 0.5, "s": "x"}, "t0")]), "r")
    (t,) = got
    assert (t.name, t.step, t.params, t.metrics) == ("t0", 3, {"opt/lr": "0.1", "name": "a"},
                                                     {"acc": 0.5})  # fmt: skip
    assert t.time_ms == 1767225600000


def test_equal_rows_stay_distinct_and_ids_are_stable():
    rows = [(0, {"lr": 1}, {}, ""), (0, {"lr": 1}, {}, "")]
    first, second = trials(table(rows), "run")
    assert first.trial_id != second.trial_id
    assert [t.trial_id for t in trials(table(rows), "run")] == [first.trial_id, second.trial_id]
    assert (first.name, second.name) == ("run trial 1", "run trial 2")
