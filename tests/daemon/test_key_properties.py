"""Property-based: the daemon's key mapping is injective, always accepted by MLflow's own
validation (and, for images, by the MLflow UI's rule), idempotent and stable."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from localtrack_daemon.artifacts import image_key
from localtrack_daemon.encode import key_is_accepted, mlflow_key
from mlflow.utils.validation import (
    _validate_metric_name,
    _validate_param_name,
    _validate_tag_name,
)

KEYS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="ab/._- :@ü#", max_size=20),  # path-like keys, many near misses
    st.text(min_size=240, max_size=400),  # keys at and past the length limit
)
PROPS = settings(max_examples=300, deadline=None, database=None)
UI_IMAGE_KEY = re.compile(r"[a-zA-Z0-9_\-./ ]+")


def mlflow_accepts(key: str) -> None:
    """Raises when MLflow's server would reject `key` as a metric, param or tag name."""
    _validate_metric_name(key)
    _validate_param_name(key)
    _validate_tag_name(key)


@PROPS
@given(KEYS)
def test_every_mapped_key_is_accepted_by_mlflow_and_maps_to_itself(key):
    mapped = mlflow_key(key)
    mlflow_accepts(mapped)
    assert key_is_accepted(mapped)
    assert mlflow_key(mapped) == mapped  # a mapped key is not mapped again


@PROPS
@given(KEYS)
def test_an_accepted_key_is_unchanged(key):
    if key_is_accepted(key) and not key.startswith("system/"):
        mlflow_accepts(key)
        assert mlflow_key(key) == key


@PROPS
@given(st.lists(KEYS, min_size=2, max_size=20, unique=True))
def test_two_local_keys_never_merge(keys):
    assert len({mlflow_key(k) for k in keys}) == len(keys)
    assert len({image_key(k) for k in keys}) == len(keys)


@PROPS
@given(KEYS)
def test_image_keys_are_accepted_by_the_mlflow_ui(key):
    mapped = image_key(key)
    assert UI_IMAGE_KEY.fullmatch(mapped), mapped
    assert "+" not in mapped and "%" not in mapped
    mlflow_accepts(mapped)


def test_the_mapping_is_stable_across_versions():
    # pinned: a change here renames keys already uploaded (docs/SYNC.md "Key mapping")
    assert image_key("samples/ünï") == "samples/_n__7aa1b3b1"
    assert mlflow_key("samples/ünï") == "samples/ünï"
    assert mlflow_key("loss@val (ema)") == "loss_val _ema__17a0fd79"
    assert mlflow_key("a//b") == "a/_/b_586cec69"
    assert mlflow_key("../x") == "_/x_72e4d01d"
    assert mlflow_key("system/cpu.percent") == "system/cpu_utilization_percentage"
