"""Notifications (SPEC §14) with plain data: Alert matching (severity, source globs, namespaces,
inclusion and exclusion regexes), de-duplication within a window, the per-Provider token bucket, the
retry backoff (and Retry-After), health transitions, each Provider type's request and the forge API
URLs derived from a repository's web URL. No cluster, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pydantic
import pytest

from gitward.controller.notifications import delivery, matching, payloads
from gitward.core.notifications import AlertSpec, Notice, ProviderSpec

SHA = "0123456789abcdef0123456789abcdef01234567"


def notice(**overrides: Any) -> Notice:
    fields: dict[str, Any] = {
        "kind": "Application",
        "namespace": "team-a",
        "name": "web",
        "severity": "info",
        "reason": "Synced",
        "message": "successfully synced (2 configured)",
        "revision": SHA,
        "timestamp": "2024-05-01T10:00:00Z",
        "metadata": {"health": "Healthy", "sync": "Synced"},
    }
    fields.update(overrides)
    return Notice(**fields)


def alert(**spec: Any) -> AlertSpec:
    body: dict[str, Any] = {"providerRef": {"name": "hook"}, "eventSources": [{"kind": "Application", "name": "*"}]}
    body.update(spec)
    return AlertSpec.model_validate(body)


# ------------------------------------------------------------------------------------ matching


def test_an_alert_matches_its_sources_by_kind_name_glob_and_namespace() -> None:
    spec = alert(eventSources=[{"kind": "Application", "name": "web-*", "namespace": "team-?"}])
    assert matching.matches("gitward", spec, notice(name="web-frontend"))
    assert not matching.matches("gitward", spec, notice(name="api"))
    assert not matching.matches("gitward", spec, notice(name="web-frontend", namespace="prod"))
    assert not matching.matches("gitward", spec, notice(name="web-frontend", kind="Rollout"))


def test_a_source_without_namespace_means_the_alerts_own_namespace() -> None:
    spec = alert()
    assert matching.matches("team-a", spec, notice())
    assert not matching.matches("gitward", spec, notice())
    assert matching.matches("gitward", alert(eventSources=[{"kind": "Application", "namespace": "*"}]), notice())


def test_error_severity_alerts_skip_info_notices_and_info_alerts_take_both() -> None:
    errors_only = alert(eventSeverity="error", eventSources=[{"kind": "Application", "namespace": "*"}])
    everything = alert(eventSources=[{"kind": "Application", "namespace": "*"}])
    assert not matching.matches("gitward", errors_only, notice())
    assert matching.matches("gitward", errors_only, notice(severity="error", reason="RenderFailed"))
    assert matching.matches("gitward", everything, notice())
    assert matching.matches("gitward", everything, notice(severity="error"))


def test_inclusion_and_exclusion_lists_are_regexes_searched_in_the_message() -> None:
    sources = [{"kind": "Application", "namespace": "*"}]
    spec = alert(eventSources=sources, inclusionList=[r"synced \(\d+ configured"], exclusionList=["no changes"])
    assert matching.matches("gitward", spec, notice())
    assert not matching.matches("gitward", spec, notice(message="drift corrected"))
    assert not matching.matches("gitward", spec, notice(message="synced (1 configured) no changes"))


def test_a_regex_that_would_backtrack_polynomially_matches_in_linear_time() -> None:
    """`.*` after `.*` has no nested quantifier, yet Python's `re` searches it in O(n^8) over a message
    of 1,024 characters without "!" (years); RE2 answers at once."""
    sources = [{"kind": "Application", "namespace": "*"}]
    spec = alert(eventSources=sources, exclusionList=[".*.*.*.*.*.*.*.*!"], inclusionList=["a*a*a*a*a*a*a*a*b|^synced"])
    assert matching.matches("gitward", spec, notice(message="synced " + "a" * 1017))
    assert not matching.matches("gitward", spec, notice(message="a" * 1023 + "!"))


def test_a_suspended_alert_matches_nothing() -> None:
    assert not matching.matches("team-a", alert(suspend=True), notice())


@pytest.mark.parametrize("pattern", ["(a+)+", "((a)+)*", "(a|aa)*", r"(\w*)*x", "(?:a*)+", "(a)\\1", "(?=x)", "("])
def test_alerts_refuse_regexes_that_backtrack_forever_or_do_not_compile(pattern: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        alert(inclusionList=[pattern])


@pytest.mark.parametrize(
    "pattern", ["(Synced|DriftCorrected)", "(?:ab)+", "a+b*", "[(]+", "^web-[0-9]{2}$", "(?i)sync"]
)
def test_alerts_take_ordinary_regexes(pattern: str) -> None:
    assert alert(exclusionList=[pattern]).exclusion_list == (pattern,)


def test_alerts_need_a_source_and_a_valid_provider_name() -> None:
    with pytest.raises(pydantic.ValidationError):
        AlertSpec.model_validate({"providerRef": {"name": "hook"}, "eventSources": []})
    with pytest.raises(pydantic.ValidationError):
        alert(providerRef={"name": "Hook\r\nX: y"})
    with pytest.raises(pydantic.ValidationError):
        alert(eventSources=[{"kind": "Pod"}])


# ------------------------------------------------------------------------- dedup, rate, backoff


def test_repeats_within_the_window_are_dropped_per_provider() -> None:
    dedup = matching.Deduplicator(window=60.0)
    assert dedup.first("hook", notice(), 0.0)
    assert not dedup.first("hook", notice(), 10.0)
    assert dedup.first("other", notice(), 10.0)  # another provider still gets it
    assert dedup.first("hook", notice(message="successfully synced (1 created)"), 10.0)
    assert dedup.first("hook", notice(revision="f" * 40), 10.0)
    assert dedup.first("hook", notice(reason="DriftCorrected"), 10.0)
    assert dedup.first("hook", notice(), 61.0)  # the window passed


def test_the_dedup_memory_is_bounded() -> None:
    dedup = matching.Deduplicator(window=60.0, capacity=3)
    for i in range(5):
        assert dedup.first("hook", notice(message=str(i)), 0.0)
    assert dedup.first("hook", notice(message="0"), 1.0)  # forgotten: capacity, not the window


def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = matching.TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.5)
    assert bucket.reserve(0.0) == pytest.approx(1.0)  # queued behind the previous one
    bucket = matching.TokenBucket(rate=2.0, burst=3, now=0.0)
    for _ in range(3):
        bucket.reserve(0.0)
    assert bucket.reserve(10.0) == 0.0  # refilled (at most the burst)


def test_backoff_is_exponential_capped_and_honours_retry_after() -> None:
    backoff = matching.Backoff(attempts=5, base=1.0, factor=2.0, cap=10.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff.delay(1, retry_after=7.0) == 7.0
    assert backoff.delay(1, retry_after=3600.0) == 10.0


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert delivery.retry_after("3") == 3.0
    assert delivery.retry_after(None) is None
    assert delivery.retry_after("soon") is None
    assert delivery.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_health_transitions_notify_degraded_recovered_and_healthy() -> None:
    assert matching.health_notice("Healthy", "Degraded", "web: crash loop") == (
        "error",
        "HealthDegraded",
        "health degraded (was Healthy): web: crash loop",
    )
    assert matching.health_notice("Degraded", "Healthy", "") == ("info", "HealthRecovered", "health recovered: Healthy")
    assert matching.health_notice("Progressing", "Healthy", "") == ("info", "Healthy", "healthy (was Progressing)")
    assert matching.health_notice("", "Healthy", "") is None  # first sight
    assert matching.health_notice("Healthy", "Healthy", "") is None
    assert matching.health_notice("Healthy", "Progressing", "") is None


# -------------------------------------------------------------------------------- payloads


def provider(kind: str, address: str = "https://hooks.example.com/x", **spec: Any) -> ProviderSpec:
    return ProviderSpec.model_validate({"type": kind, "address": address, **spec})


def test_generic_posts_the_documented_json() -> None:
    request = payloads.build(provider("generic"), payloads.Credentials(), notice(), summary="prod cluster")
    assert request is not None and request.method == "POST" and request.url == "https://hooks.example.com/x"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "involvedObject": {"kind": "Application", "namespace": "team-a", "name": "web"},
        "severity": "info",
        "reason": "Synced",
        "message": "successfully synced (2 configured)",
        "revision": SHA,
        "timestamp": "2024-05-01T10:00:00Z",
        "metadata": {"health": "Healthy", "sync": "Synced", "summary": "prod cluster"},
    }


def test_generic_hmac_signs_the_exact_body_with_the_token() -> None:
    creds = payloads.Credentials(token="hmac-key-1")
    request = payloads.build(provider("generic-hmac"), creds, notice())
    assert request is not None
    expected = "sha256=" + hmac.new(b"hmac-key-1", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected
    assert b"hmac-key-1" not in request.body
    with pytest.raises(payloads.ConfigError):
        payloads.build(provider("generic-hmac"), payloads.Credentials(), notice())


def test_the_secrets_address_overrides_the_spec_for_webhooks() -> None:
    creds = payloads.Credentials(address="https://hooks.slack.com/services/T0/B0/secret")
    request = payloads.build(provider("slack", channel="#deploys"), creds, notice(severity="error", reason="X"))
    assert request is not None and request.url == creds.address
    body = json.loads(request.body)
    assert body["channel"] == "#deploys" and body["text"] == "Application team-a/web: X"
    assert body["attachments"][0]["color"] == "danger"
    assert body["attachments"][0]["text"] == "successfully synced (2 configured)"


def test_a_slack_message_written_by_a_repository_never_pings_or_links() -> None:
    creds = payloads.Credentials(address="https://hooks.slack.com/services/T0/B0/secret")
    hostile = "render failed: <!channel> see <https://evil.example|the fix> & more"
    request = payloads.build(provider("slack"), creds, notice(message=hostile), summary="<@U123> <!here>")
    assert request is not None
    body = json.loads(request.body)
    text = json.dumps(body)
    assert "<!channel>" not in text and "<https://evil" not in text and "<@U123>" not in text and "<!here>" not in text
    assert body["attachments"][0]["text"] == (
        "render failed: &lt;!channel&gt; see &lt;https://evil.example|the fix&gt; &amp; more"
    )


def test_msteams_posts_a_message_card() -> None:
    request = payloads.build(provider("msteams"), payloads.Credentials(), notice())
    assert request is not None
    body = json.loads(request.body)
    assert body["@type"] == "MessageCard" and body["@context"] == "https://schema.org/extensions"
    assert body["sections"][0]["activitySubtitle"] == "successfully synced (2 configured)"
    assert {"name": "revision", "value": SHA} in body["sections"][0]["facts"]


@pytest.mark.parametrize(
    "address",
    ["file:///etc/passwd", "ftp://x/y", "https://user:pw@host/x", "http:///nohost", "javascript:alert(1)", ""],
)
def test_non_http_addresses_and_credentials_in_urls_are_refused(address: str) -> None:
    with pytest.raises(payloads.ConfigError):
        payloads.check_address(address)


@pytest.mark.parametrize(
    ("forge", "address", "url"),
    [
        ("github", "https://github.com/org/repo", f"https://api.github.com/repos/org/repo/statuses/{SHA}"),
        ("github", "https://github.com/org/repo.git", f"https://api.github.com/repos/org/repo/statuses/{SHA}"),
        ("github", "https://ghe.corp/org/repo", f"https://ghe.corp/api/v3/repos/org/repo/statuses/{SHA}"),
        ("github", "http://127.0.0.1:8000/org/repo", f"http://127.0.0.1:8000/api/v3/repos/org/repo/statuses/{SHA}"),
        (
            "gitlab",
            "https://gitlab.com/group/sub/project",
            f"https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject/statuses/{SHA}",
        ),
        ("gitea", "https://gitea.io/org/repo", f"https://gitea.io/api/v1/repos/org/repo/statuses/{SHA}"),
        ("gitea", "https://h.example/git/org/repo", f"https://h.example/git/api/v1/repos/org/repo/statuses/{SHA}"),
        (
            "bitbucket",
            "https://bitbucket.org/ws/repo",
            f"https://api.bitbucket.org/2.0/repositories/ws/repo/commit/{SHA}/statuses/build",
        ),
    ],
)
def test_forge_api_urls_derive_from_the_repository_web_url(forge: str, address: str, url: str) -> None:
    assert payloads.status_url(forge, address, SHA) == url


@pytest.mark.parametrize(
    "address",
    ["https://github.com/org", "https://github.com/a/b/c", "https://github.com/org/..", "https://github.com/-x/y"],
)
def test_forge_addresses_need_a_plain_owner_and_repository(address: str) -> None:
    with pytest.raises(payloads.ConfigError):
        payloads.status_url("github", address, SHA)


def test_commit_states_follow_the_notice() -> None:
    assert payloads.commit_state(notice(reason="Progressing", metadata={})) == "pending"
    assert payloads.commit_state(notice(metadata={"health": "Progressing"})) == "pending"
    assert payloads.commit_state(notice()) == "success"
    assert payloads.commit_state(notice(reason="Healthy")) == "success"
    assert payloads.commit_state(notice(severity="error", reason="RenderFailed")) == "failure"
    assert payloads.commit_state(
        notice(severity="error", reason="PolicyDenied", metadata={"condition": "ValidationError"})
    )
    assert (
        payloads.commit_state(notice(severity="error", reason="FetchFailed", metadata={"condition": "SourceError"}))
        is None
    )
    assert payloads.commit_state(notice(severity="error", reason="DriftFight")) is None
    assert payloads.commit_state(notice(revision="")) is None
    assert payloads.commit_state(notice(revision="main")) is None


def test_each_forge_sends_its_documented_status_and_authentication() -> None:
    creds = payloads.Credentials(token="tok-123", username="bot", password="app-pw")
    github = payloads.build(provider("github", "https://github.com/org/repo"), creds, notice(reason="Progressing"))
    assert github is not None and github.headers["Authorization"] == "Bearer tok-123"
    assert github.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert json.loads(github.body) == {
        "state": "pending",
        "context": "gitward/team-a/web",
        "description": "Progressing: successfully synced (2 configured)",
    }
    gitlab = payloads.build(
        provider("gitlab", "https://gitlab.com/g/p"), creds, notice(severity="error", reason="SyncFailed")
    )
    assert gitlab is not None and gitlab.headers["PRIVATE-TOKEN"] == "tok-123"
    assert json.loads(gitlab.body)["state"] == "failed" and json.loads(gitlab.body)["name"] == "gitward/team-a/web"
    gitea = payloads.build(provider("gitea", "https://gitea.io/o/r"), creds, notice())
    assert gitea is not None and gitea.headers["Authorization"] == "token tok-123"
    assert json.loads(gitea.body)["state"] == "success"
    bitbucket = payloads.build(provider("bitbucket", "https://bitbucket.org/w/r"), creds, notice())
    assert bitbucket is not None
    assert bitbucket.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:app-pw").decode()
    body = json.loads(bitbucket.body)
    assert body["state"] == "SUCCESSFUL" and len(body["key"]) <= 40 and body["url"] == "https://bitbucket.org/w/r"
    for request in (github, gitlab, gitea, bitbucket):
        assert b"tok-123" not in request.body and b"app-pw" not in request.body


def test_forge_descriptions_are_cut_to_140_characters() -> None:
    request = payloads.build(
        provider("github", "https://github.com/o/r"), payloads.Credentials(token="t"), notice(message="x" * 500)
    )
    assert request is not None and len(json.loads(request.body)["description"]) == 140


def test_forges_without_credentials_are_a_config_error() -> None:
    with pytest.raises(payloads.ConfigError):
        payloads.build(provider("github", "https://github.com/o/r"), payloads.Credentials(), notice())
    with pytest.raises(payloads.ConfigError):
        payloads.build(provider("bitbucket", "https://bitbucket.org/o/r"), payloads.Credentials(token="t"), notice())


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "carrier-pigeon"},
        {"type": "generic", "address": "https://x/\r\nHost: evil"},
        {"type": "slack", "channel": "#a\nb"},
        {"type": "generic", "secretRef": {"name": "../etc"}},
        {"type": "generic", "address": "h" * 2049},
    ],
)
def test_provider_specs_are_hostile_until_validated(spec: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        ProviderSpec.model_validate(spec)
