"""The Provider and Alert resources (SPEC §14) as validated models, and the `Notice` the controller
hands to the notification engine.

A Provider says where to deliver (`type`, `address`, `secretRef`); an Alert says what to deliver
there (`providerRef`, `eventSeverity`, `eventSources`, inclusion/exclusion regexes, `summary`). Both
live in the controller namespace, as in Flux's notification API. Every string is held to a grammar
of `gitward.core.identifiers` (the CRDs under `deploy/crds/` carry the same patterns); the regexes are
compiled here with RE2 (`gitward.core.regexes`: linear-time matching, the syntax of Flux's Go
regexp) and refused when they do not compile.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from gitward.core.applications import SpecModel, grammar
from gitward.core.identifiers import check
from gitward.core.regexes import RegexError, compile_regex, error_message

PROVIDER_KIND = "Provider"
ALERT_KIND = "Alert"

ProviderType = Literal["generic", "generic-hmac", "slack", "msteams", "github", "gitlab", "gitea", "bitbucket"]
PROVIDER_TYPES: tuple[str, ...] = ProviderType.__args__  # type: ignore[attr-defined]
FORGES = ("github", "gitlab", "gitea", "bitbucket")
Severity = Literal["info", "error"]
SourceKind = Literal["Application", "Rollout", "ApplicationSet"]

MAX_REGEX = 256  # characters of one inclusion/exclusion regex
MAX_TEXT = 255  # a Slack channel or user name
MAX_SUMMARY = 1024


def _optional(name: str) -> AfterValidator:
    return AfterValidator(lambda value: value if value == "" else check(name, value))


def _printable(limit: int) -> AfterValidator:
    def validate(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters (got {len(value)})")
        if not re.fullmatch(r"[ -~]*", value):
            raise ValueError("must be printable ASCII")
        return value

    return AfterValidator(validate)


def check_regex(value: str) -> str:
    """A regex from an Alert: printable, bounded, and compilable by RE2 (it runs in the controller's
    process against event messages; RE2 matches in linear time, so no pattern can stall it)."""
    check("glob", value)  # printable ASCII, bounded
    if len(value) > MAX_REGEX:
        raise ValueError(f"must be at most {MAX_REGEX} characters (got {len(value)})")
    if re.search(r"\(\?[=!<]|\\[1-9]", value):
        raise ValueError("look-around and back-references are not supported")
    if _nested_quantifier(value):
        raise ValueError("nested quantifiers (like '(a+)+') are not allowed: they can backtrack forever")
    try:
        compile_regex(value)
    except RegexError as exc:
        raise ValueError(f"not a valid regular expression: {error_message(exc)}") from exc
    return value


def _nested_quantifier(pattern: str) -> bool:
    """Whether a repeated group contains a quantifier or an alternation: `(a+)+`, `((a)+)*`, `(a|aa)*` —
    the shapes that backtrack exponentially in Python's `re` (RE2, the API server's, is linear)."""
    stack: list[bool] = []  # per open group: whether it holds a quantifier or "|"
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c == "(":
            stack.append(False)
            if pattern[i + 1 : i + 2] == "?":  # (?:…), (?P<name>…), (?i): not a quantifier
                i += 2
        elif c == ")" and stack:
            risky = stack.pop()
            repeated = pattern[i + 1 : i + 2] in ("*", "+", "{")
            if risky and repeated:
                return True
            if stack and (risky or repeated):
                stack[-1] = True
        elif c in "*+?{|" and stack:
            stack[-1] = True
        i += 1
    return False


Subdomain = Annotated[str, grammar("subdomain")]
Url = Annotated[str, _optional("url")]
Glob = Annotated[str, grammar("glob")]
Regex = Annotated[str, AfterValidator(check_regex)]


class SecretRef(SpecModel):
    name: Subdomain


class ProviderSpec(SpecModel):
    type: ProviderType
    address: Url = ""
    channel: Annotated[str, _printable(MAX_TEXT)] = ""
    username: Annotated[str, _printable(MAX_TEXT)] = ""
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    suspend: bool = False


class ProviderRef(SpecModel):
    name: Subdomain


class EventSource(SpecModel):
    kind: SourceKind
    name: Glob = "*"  # a glob (`*`, `?`, `[...]`) on the object's name
    namespace: Glob = ""  # a glob; empty: the Alert's own namespace (as in Flux)


class AlertSpec(SpecModel):
    provider_ref: ProviderRef = Field(alias="providerRef")
    event_severity: Severity = Field(default="info", alias="eventSeverity")
    event_sources: tuple[EventSource, ...] = Field(alias="eventSources", min_length=1, max_length=64)
    inclusion_list: tuple[Regex, ...] = Field(default=(), alias="inclusionList", max_length=64)
    exclusion_list: tuple[Regex, ...] = Field(default=(), alias="exclusionList", max_length=64)
    summary: str = Field(default="", max_length=MAX_SUMMARY)
    suspend: bool = False


@dataclass(frozen=True)
class Notice:
    """One thing gitward did or refused, about one object (an Application today), for the Alerts.

    `message` is already free of Secret values (it is the Kubernetes Event's message); `revision` is
    the commit it is about ("" when none); `metadata` carries plain facts (health, sync, condition)."""

    kind: str
    namespace: str
    name: str
    severity: Severity
    reason: str
    message: str
    revision: str = ""
    timestamp: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"
