import json
import math

import pytest
from localtrack_daemon import encode
from mlflow.utils.validation import _validate_metric_name, _validate_param_name

ODD_KEYS = [
    "Loss/train",
    "acc",
    "a b:c-d.e",
    "ünïcode/ключ",
    "emoji🙂",
    "a@b",
    "f(x)",
    "a//b",
    "/abs",
    "a/",
    "../x",
    "..x",
    ".",
    "./x",
    "",
    "x" * 300,
    "a/" + "y" * 260 + "/",
    "%+",
    "a/./b",
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_every_mapped_key_is_one_mlflow_accepts(key):
    mapped = encode.mlflow_key(key)
    _validate_metric_name(mapped)  # MLflow's own validators raise on a key it rejects
    _validate_param_name(mapped)
    assert encode.key_is_accepted(mapped)


@pytest.mark.parametrize("key", ["Loss/train", "acc", "a b:c-d.e", "ünïcode/ключ", "x" * 250])
def test_accepted_keys_stay_as_they_are(key):
    assert encode.mlflow_key(key) == key


def test_mapping_is_deterministic_and_never_merges_two_keys():
    mapped = [encode.mlflow_key(k) for k in ODD_KEYS]
    assert mapped == [encode.mlflow_key(k) for k in ODD_KEYS]
    assert len(set(mapped)) == len(ODD_KEYS)
    assert encode.mlflow_key("a@b") != encode.mlflow_key("a_b")
    assert encode.key_map(["ok", "a@b"]) == {"a@b": encode.mlflow_key("a@b")}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (math.nan, '"NaN"'),
        (math.inf, '"Infinity"'),
        (-math.inf, '"-Infinity"'),
        (1.5, "1.5"),
        (1e300, "1e+300"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
    ],
)
def test_values_are_encoded_as_mlflow_parses_them(value, text):
    assert encode.encode_value(value) == text


def test_metrics_body_is_json_with_the_original_step_and_timestamp():
    body = encode.metrics_body("r1", ["k", "k"], [math.nan, 2.0], [10, 11], [-(2**63), 2**63 - 1])
    data = json.loads(body)
    assert data["run_id"] == "r1"
    assert data["metrics"] == [
        {"key": "k", "value": "NaN", "timestamp": 10, "step": -(2**63)},
        {"key": "k", "value": 2.0, "timestamp": 11, "step": 2**63 - 1},
    ]


def test_param_values_are_strings_bare_and_other_json_as_text():
    assert encode.param_value('"adam"') == "adam"
    assert encode.param_value("0.001") == "0.001"
    assert encode.param_value("[1, 2]") == "[1, 2]"
    assert encode.param_value('{"a": true}') == '{"a": true}'


def test_nested_config_is_flattened_with_slashes():
    assert encode.flatten({"opt": {"lr": 1, "betas": [0.9]}, "bs": 8, "empty": {}}) == {
        "opt/lr": 1,
        "opt/betas": [0.9],
        "bs": 8,
        "empty": {},
    }


def test_truncation_says_when_it_cut():
    assert encode.truncate("abc", 5) == ("abc", False)
    assert encode.truncate("x" * 7000, 6000) == ("x" * 6000, True)


def test_timestamps_floor_to_milliseconds():
    assert encode.timestamp_ms(1_700_000_000_123_999) == 1_700_000_000_123


def test_arrow_text_says_exactly_what_the_reference_encoder_says():
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(1)
    values = [
        *rng.normal(size=200),
        *(rng.normal(size=200) * 1e300),
        *(rng.normal(size=50) * 1e-300),
        math.nan,
        math.inf,
        -math.inf,
        0.0,
        -0.0,
        5e-324,
        0.1,
        1e16,
        1e-7,
    ]
    n = len(values)
    tags = [["Loss/train", "a@b", "ключ", 'q"uote\\'][i % 4] for i in range(n)]
    ts = [1_700_000_000_000 + i for i in range(n)]
    steps = [(-(2**63) if i == 0 else 2**63 - 1 if i == 1 else i) for i in range(n)]
    text = encode.metric_text(
        pa.array(tags),
        pa.array(values, pa.float64()),
        pa.array(ts, pa.int64()),
        pa.array(steps, pa.int64()),
    )
    assert len(text) == n
    got = json.loads(text.body("r", [(0, n)]))
    want = json.loads(
        encode.metrics_body("r", [encode.mlflow_key(t) for t in tags], values, ts, steps)
    )
    assert got["run_id"] == want["run_id"]
    for a, b in zip(got["metrics"], want["metrics"], strict=True):
        assert (a["key"], a["timestamp"], a["step"]) == (b["key"], b["timestamp"], b["step"])
        if isinstance(b["value"], str):  # "NaN", "Infinity", "-Infinity"
            assert a["value"] == b["value"]
        else:  # the very same double ("0" and "0.0" both are)
            assert float(a["value"]).hex() == b["value"].hex()


def test_a_body_holds_exactly_the_points_of_its_slices():
    import pyarrow as pa

    values = [0.5, -0.0, 2.0, 1e-7, 3.0, 4.0, 5.0]  # finite: the path without NaN/inf fix-ups
    n = len(values)
    text = encode.metric_text(
        pa.array([f"k{i % 2}" for i in range(n)]),
        pa.array(values, pa.float64()),
        pa.array(range(100, 100 + n), pa.int64()),
        pa.array(range(n), pa.int64()),
    )
    got = json.loads(text.body("run-1", [(0, 2), (2, 2), (4, 6)]))
    assert got["run_id"] == "run-1"
    assert [(m["key"], m["step"], m["timestamp"]) for m in got["metrics"]] == [
        ("k0", 0, 100),
        ("k1", 1, 101),
        ("k0", 4, 104),
        ("k1", 5, 105),
    ]
    assert [float(m["value"]).hex() for m in got["metrics"]] == [
        v.hex() for v in (0.5, -0.0, 3.0, 4.0)
    ]
    assert json.loads(text.body("r", [])) == {"run_id": "r", "metrics": []}
