"""Slack's Web API through a `slack` Provider with a token (needs a channel, and its 200 answers are
read for `ok`), and the answer check of `delivery` on plain bytes (pure)."""

from __future__ import annotations

import json
import time

import pytest

from gitward.controller.notifications import delivery, payloads
from gitward.core.notifications import Notice, ProviderSpec

SHA = "0123456789abcdef0123456789abcdef01234567"
NOTICE = Notice("Application", "team-a", "web", "info", "Synced", "successfully synced", SHA)


def slack(**spec: str) -> ProviderSpec:
    return ProviderSpec.model_validate({"type": "slack", "address": "https://slack.com/api/chat.postMessage", **spec})


def test_a_slack_provider_with_a_token_uses_the_web_api_and_needs_a_channel() -> None:
    creds = payloads.Credentials(token="xoxb-1")
    with pytest.raises(payloads.ConfigError, match="channel"):
        payloads.build(slack(), creds, NOTICE)
    request = payloads.build(slack(channel="#deploys"), creds, NOTICE)
    assert request is not None and request.check_ok
    assert request.headers["Authorization"] == "Bearer xoxb-1"
    assert json.loads(request.body)["channel"] == "#deploys"
    webhook = payloads.build(slack(), payloads.Credentials(), NOTICE)
    assert webhook is not None and not webhook.check_ok and "Authorization" not in webhook.headers


def test_an_ok_false_answer_is_a_failure_named_by_its_error_code() -> None:
    delivery._check_ok("slack.com", b'{"ok": true, "ts": "1.2"}')
    with pytest.raises(delivery.DeliveryError) as refused:
        delivery._check_ok("slack.com", b'{"ok": false, "error": "channel_not_found"}')
    assert refused.value.message == "slack.com: refused: channel_not_found" and not refused.value.retry
    with pytest.raises(delivery.DeliveryError) as odd:
        delivery._check_ok("slack.com", b'{"ok": false, "error": "<script>xoxb-secret"}')
    assert "xoxb" not in odd.value.message
    with pytest.raises(delivery.DeliveryError) as limited:
        delivery._check_ok("slack.com", b'{"ok": false, "error": "ratelimited"}')
    assert limited.value.retry
    with pytest.raises(delivery.DeliveryError):
        delivery._check_ok("slack.com", b"ok")


def test_a_rate_limit_wait_comes_from_retry_after_or_the_ratelimit_reset() -> None:
    assert delivery.rate_limit_wait({"retry-after": "7"}) == 7.0
    reset = int(time.time()) + 30
    wait = delivery.rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    assert wait is not None and 25 <= wait <= 30
    assert delivery.rate_limit_wait({"x-ratelimit-remaining": "12", "x-ratelimit-reset": str(reset)}) is None
    assert delivery.rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon"}) is None
    assert delivery.rate_limit_wait({}) is None
