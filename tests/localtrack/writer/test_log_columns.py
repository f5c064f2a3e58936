"""run.log's columnar fast path: every number lands under its own key, step and time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import localtrack
from localtrack import LocaltrackWarning
from localtrack._store.segments import read_stream


def scalars(run) -> list[tuple[str, int, float]]:
    table = read_stream(Path(run.dir), "scalars")
    assert table is not None
    return sorted(zip(*(table[c].to_pylist() for c in ("tag", "step", "value")), strict=True))


def test_changing_and_reordered_keys_keep_each_value_with_its_key(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    expected = []
    for step in range(300):
        if step % 3 == 0:
            data = {"a": step + 0.1, "b": step + 0.2}
        elif step % 3 == 1:
            data = {"b": step + 0.2, "a": step + 0.1}  # the same keys, another order
        else:
            data = {"c": step + 0.3}
        run.log(data)
        expected += [(k, step, v) for k, v in data.items()]
        if step == 150:
            run._core.flush()  # a seal in the middle of a run of equal keys
    run.finish()
    assert scalars(run) == sorted(expected)
    assert run.summary["a"] == 298.1 and run.summary["c"] == 299.3


def test_threads_logging_to_one_run_lose_and_mix_nothing(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)

    def worker(t: int) -> None:  # no step=: W&B drops a step lower than the run's
        for i in range(2000):
            run.log({f"t{t}/x": float(i), f"t{t}/y": float(-i)})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    run.finish()
    got = scalars(run)
    assert len(got) == 4 * 2000 * 2
    for t in range(4):
        xs = {s: v for tag, s, v in got if tag == f"t{t}/x"}
        ys = {s: v for tag, s, v in got if tag == f"t{t}/y"}
        assert sorted(xs.values()) == [float(i) for i in range(2000)]
        assert xs.keys() == ys.keys() and all(ys[s] == -xs[s] for s in xs)


def test_ints_bools_and_numbers_too_big_for_a_double(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"int": 3, "float": 0.5})
    with pytest.warns(LocaltrackWarning, match="too big"):
        run.log({"huge": 10**400, "fine": 1.5})
        run._core.flush()  # the slow path vets the number when sealing
    run.log({"flag": True})
    run.log({})  # an empty dict still advances the step, as in W&B
    run.log({"last": 2.0})
    run.finish()
    assert scalars(run) == [
        ("fine", 1, 1.5),
        ("flag", 2, 1.0),
        ("float", 0, 0.5),
        ("int", 0, 3.0),
        ("last", 4, 2.0),
    ]


def test_a_key_that_is_not_a_string_warns_and_the_rest_is_kept(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path)
    run.log({"loss": 0.5})
    with pytest.warns(LocaltrackWarning, match="tag"):
        run.log({3: 1.0, "acc": 0.9})  # type: ignore[dict-item]
        run._core.flush()
    run.finish()
    assert scalars(run) == [("acc", 1, 0.9), ("loss", 0, 0.5)]


def test_on_full_drop_counts_what_it_drops_and_keeps_the_rest(tmp_path):
    run = localtrack.init(project="p", dir=tmp_path, on_full="drop")
    core = run._core
    core._stopping = True  # the sealer stops: nothing is taken until close()
    core._wake.set()
    core._thread.join()
    core._stopping = False
    per_step = 10
    steps = core.block_hard_cap // per_step + 50
    for step in range(steps):
        run.log({f"m{k}": float(step) for k in range(per_step)})
    assert 45 <= core.dropped <= 50
    run.finish()
    kept = steps - core.dropped  # the first ones: the policy drops what comes past the cap
    got = scalars(run)
    assert len(got) == kept * per_step
    assert {s for _, s, _ in got} == set(range(kept))


def test_a_big_block_is_sealed_in_parts_that_keep_every_value(tmp_path):
    from localtrack._writer.blocks import ScalarBlock

    block = ScalarBlock()
    expected = []
    for step in range(1000):  # runs of 3, 1 and 7 keys
        keys = ("a", "b", "c") if step < 400 else ("x",) if step < 700 else tuple("ghijklm")
        numbers = [step * 10.0 + i for i in range(len(keys))]
        with block.lock:
            block.values.fromlist(numbers)
            if keys != block.keys:
                block.new_keys(keys)
            block.steps.append(step)
            block.times.append(float(step))
        expected += [(k, step, v) for k, v in zip(keys, numbers, strict=True)]
    taken = block.take()
    assert taken is not None
    for limit in (1, 5, 64, 333, 10_000):
        parts = taken.split(limit)
        assert all(len(p) <= max(limit, 7) for p in parts)
        got = [(tag, step, value) for p in parts for tag, value, step, _ in p.rows()]
        assert got == expected
