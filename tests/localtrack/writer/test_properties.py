"""Property-based: whatever mix of bad and good calls a training loop makes, nothing raises and
every good point comes back exact through localtrack.sql."""

from __future__ import annotations

import math
import tempfile
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import localtrack

TAGS = st.text(min_size=1, max_size=30)
GOOD_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**53), max_value=2**53),
)
GOOD_STEPS = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
GOOD_TIMES = st.one_of(st.none(), st.floats(min_value=0, max_value=4e9))
BAD_VALUES = st.one_of(
    st.text(max_size=5),
    st.none(),
    st.lists(st.integers(), min_size=2, max_size=3),
    st.complex_numbers(allow_nan=False, allow_infinity=False).filter(lambda c: c.imag != 0),
    st.builds(object),
)
BAD_STEPS = st.one_of(
    st.integers(min_value=2**63),
    st.integers(max_value=-(2**63) - 1),
    st.floats().filter(lambda f: not (math.isfinite(f) and f.is_integer())),
    st.text(max_size=3),
)
BAD_TIMES = st.one_of(
    st.floats(max_value=-1e-3),
    st.floats(min_value=9.3e12),
    st.just(math.nan),
    st.text(max_size=3).filter(lambda s: not _is_float(s)),
)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


GOOD = st.tuples(st.just(True), TAGS, GOOD_VALUES, GOOD_STEPS, GOOD_TIMES)
BAD = st.one_of(
    st.tuples(st.just(False), TAGS, BAD_VALUES, GOOD_STEPS, GOOD_TIMES),
    st.tuples(st.just(False), TAGS, GOOD_VALUES, BAD_STEPS, GOOD_TIMES),
    st.tuples(st.just(False), TAGS, GOOD_VALUES, GOOD_STEPS, BAD_TIMES),
)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(st.one_of(GOOD, BAD), min_size=1, max_size=12))
def test_bad_calls_never_raise_and_good_points_come_back_exact(calls):
    with tempfile.TemporaryDirectory() as root, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bad data warns once per tag: expected here
        values: dict[tuple[str, int, int], list[float]] = {}
        with localtrack.SummaryWriter(f"{root}/p/r") as w:
            for good, tag, value, step, walltime in calls:
                w.add_scalar(tag, value, step, walltime)
                if not good:
                    continue
                # the writer's own clock for walltime=None: compared by presence only
                t = -1 if walltime is None else int(np.int64(np.float64(walltime) * 1e6))
                key = (tag, 0 if step is None else step, t)
                values.setdefault(key, []).append(float(value))
        rows = localtrack.sql(
            "SELECT tag, step, value, epoch_us(wall_time) FROM scalars", root
        ).fetchall()
    left = list(rows)  # each stored row answers for one logged point only

    def take(tag: str, step: int, t: int, v: float) -> None:
        for i, (rt, rs, rv, rtime) in enumerate(left):
            if (rt, rs) == (tag, step) and (t == -1 or rtime == t) and _same(rv, v):
                left.pop(i)
                return
        raise AssertionError(f"point {(tag, step, t)} = {v} did not come back ({rows})")

    # explicit wall times first: a point timed by the writer's clock may take any time
    for (tag, step, t), want in sorted(values.items(), key=lambda kv: kv[0][2] == -1):
        for v in want:
            take(tag, step, t, v)
