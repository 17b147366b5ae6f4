"""Analysis bookkeeping and answer parsing, from plain data: counts, limits, Prometheus answers, JSON paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gitward.controller.rollouts import measuring, providers
from gitward.controller.rollouts.measuring import Outcome
from gitward.core import rollouts as ro

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def metric(**over: Any) -> ro.Metric:
    raw = {"name": "m", "interval": "10s", "provider": {"web": {"url": "http://127.0.0.1:1/"}}, **over}
    return ro.Metric.model_validate(raw)


def running() -> dict[str, Any]:
    return {"template": "t", "metric": "m", "phase": "Running", "measurements": 0, "failures": 0, "inconclusive": 0}


def test_count_measurements_make_a_metric_successful() -> None:
    m, entry = metric(count=2), running()
    entry = measuring.record(entry, m, Outcome(True, "0.01"), T0)
    assert entry["phase"] == "Running" and entry["value"] == "0.01"
    assert not measuring.due(entry, m, T0 + dt.timedelta(seconds=5))
    assert measuring.due(entry, m, T0 + dt.timedelta(seconds=10))
    entry = measuring.record(entry, m, Outcome(True, "0.02"), T0 + dt.timedelta(seconds=10))
    assert entry["phase"] == "Successful"


def test_failures_past_the_limit_fail_the_metric() -> None:
    m, entry = metric(count=5, failureLimit=1), running()
    entry = measuring.record(entry, m, Outcome(False, "0.3"), T0)
    assert entry["phase"] == "Running"
    entry = measuring.record(entry, m, Outcome(False, "0.4"), T0)
    assert entry["phase"] == "Failed" and "0.4" in entry["message"]


def test_inconclusive_answers_count_against_their_own_limit() -> None:
    m, entry = metric(count=1, failureLimit=0, inconclusiveLimit=2), running()
    for _ in range(2):
        entry = measuring.record(entry, m, Outcome(None, "", "HTTP 503"), T0)
        assert entry["phase"] == "Running" and entry["failures"] == 0
    entry = measuring.record(entry, m, Outcome(None, "", "HTTP 503"), T0)
    assert entry["phase"] == "Failed" and "inconclusive 3 times" in entry["message"]


def test_a_first_measurement_is_due_at_once() -> None:
    assert measuring.due(running(), metric(), T0)
    assert not measuring.due({**running(), "phase": "Successful"}, metric(), T0)


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ({"status": "success", "data": {"resultType": "scalar", "result": [1, "0.5"]}}, 0.5),
        ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "2"]}]}}, 2.0),
    ],
)
def test_prometheus_answers_with_one_value(body: Any, value: float) -> None:
    assert providers.prometheus_value(body) == value


@pytest.mark.parametrize(
    "body",
    [
        {"status": "error", "error": "parse error"},
        {"status": "success", "data": {"resultType": "vector", "result": []}},
        {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}, {"value": [1, "2"]}]}},
        {"status": "success", "data": {"resultType": "matrix", "result": []}},
        {"status": "success", "data": {"resultType": "scalar", "result": [1, "NaN"]}},
        {"status": "success", "data": {"resultType": "scalar", "result": [1, "many"]}},
        ["not", "an", "object"],
    ],
)
def test_other_prometheus_answers_are_inconclusive(body: Any) -> None:
    with pytest.raises(providers.ProviderError):
        providers.prometheus_value(body)


def test_json_paths() -> None:
    doc = {"a": {"b": [{"c": 3}]}}
    assert providers.json_path(doc, "$.a.b[0].c") == 3
    assert providers.json_path(doc, "$") == doc
    with pytest.raises(providers.ProviderError, match="no field 'x'"):
        providers.json_path(doc, "$.a.x")
    with pytest.raises(providers.ProviderError, match="no element 5"):
        providers.json_path(doc, "$.a.b[5]")


@pytest.mark.parametrize("path", ["a.b", "$..a", "$.a[*]", "$['a']", "$.a;rm"])
def test_json_path_grammar_refuses_others(path: str) -> None:
    with pytest.raises(ValueError, match="jsonPath"):
        ro.Web.model_validate({"url": "http://x/", "jsonPath": path})


def test_job_names_are_bounded_labels() -> None:
    name = providers.job_name("a" * 60, "b" * 60, "0123456789abcdef", 12)
    assert len(name) <= 63 and name.endswith("-0123456789-12")
