"""What the dashboard's notifications page shows of a Provider's address and conditions (pure):
scheme and host only — never a path, query or userinfo, which may be the credential itself."""

from __future__ import annotations

from gitward.server.dashboard import notifications


def test_an_address_is_shown_as_scheme_and_host_only() -> None:
    assert notifications._host("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com"
    assert notifications._host("http://127.0.0.1:8080/hook?token=abc") == "http://127.0.0.1:8080"
    assert notifications._host("https://user:pass@example.com/x") == "https://example.com"
    assert notifications._host("https://example.com:99999/x") == "(invalid)"
    assert notifications._host("not a url") == "(invalid)"
    assert notifications._host("") == "" and notifications._host(None) == ""


def test_ready_reads_the_condition_and_tolerates_any_status() -> None:
    ok = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "m"}]}}
    assert notifications._ready(ok) == notifications.Ready("ok", "Ready", "Succeeded", "m", "")
    bad = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "DeliveryFailed"}]}}
    assert notifications._ready(bad).tone == "bad"
    for odd in ({}, {"status": None}, {"status": {"conditions": "x"}}, {"status": {"conditions": [1, None]}}):
        assert notifications._ready(odd).label == "Unknown"
