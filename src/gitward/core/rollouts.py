"""The Rollout and AnalysisTemplate resources as typed, validated models (SPEC §10).

Parsed by the rollout controller (`gitward.controller.rollouts`) from the custom resources, and by
the CLI and API to validate names. Field names follow the CRDs (camelCase aliases); identifiers are
held to `gitward.core.identifiers`' grammars, durations to `applications.parse_duration`, and CEL
conditions to the evaluator's bounds, so a hostile spec is refused with a message naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from gitward.core.applications import API_GROUP, API_VERSION, Label, SpecModel, Subdomain, grammar, parse_duration

__all__ = [
    "ABORT",
    "API_GROUP",
    "API_VERSION",
    "FIELD_MANAGER",
    "OPERATIONS",
    "PROMOTE",
    "PROMOTE_FULL",
    "RETRY",
    "AnalysisRef",
    "AnalysisTemplateSpec",
    "Metric",
    "RolloutSpec",
    "Step",
]

FIELD_MANAGER = "gitward-rollout"
"""The server-side-apply field manager of every write to objects an Application deploys."""

# operations: annotations on the Rollout; any new value asks for the operation once (SPEC §10)
PROMOTE = "gitward.dev/promote"
PROMOTE_FULL = "gitward.dev/promote-full"
ABORT = "gitward.dev/abort"
RETRY = "gitward.dev/retry"
OPERATIONS = {"promote": PROMOTE, "promoteFull": PROMOTE_FULL, "abort": ABORT, "retry": RETRY}

REVISION_ANNOTATION = "gitward.dev/rollout-revision"
"""On `<target>-primary`: the revision (pod template hash) its template was copied from."""

MAX_STEPS = 64
MAX_METRICS = 16
MAX_COUNT = 1000
MAX_CONDITION = 4096
MAX_QUERY = 8192
MAX_DURATION = 7 * 24 * 3600.0


def _duration(text: str) -> str:
    seconds = parse_duration(text)
    if seconds < 0 or seconds > MAX_DURATION:
        raise ValueError(f"duration {text!r} must be between 0 and 7 days")
    return text


Duration = Annotated[str, AfterValidator(_duration)]
Url = Annotated[str, grammar("url")]


def seconds(duration: str | None) -> float | None:
    """A validated duration in seconds (None stays None)."""
    return None if duration is None else parse_duration(duration)


class TemplateRef(SpecModel):
    name: Subdomain


class AnalysisRef(SpecModel):
    templates: tuple[TemplateRef, ...] = Field(min_length=1, max_length=MAX_METRICS)


class Pause(SpecModel):
    duration: Duration | None = None  # absent: wait for promote


class Step(SpecModel):
    set_weight: int | None = Field(default=None, alias="setWeight", ge=0, le=100)
    pause: Pause | None = None
    analysis: AnalysisRef | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if sum(x is not None for x in (self.set_weight, self.pause, self.analysis)) != 1:
            raise ValueError("a step is exactly one of setWeight, pause or analysis")
        return self


class GatewayAPI(SpecModel):
    http_route: Subdomain = Field(alias="httpRoute")


class TrafficRouting(SpecModel):
    gateway_api: GatewayAPI | None = Field(default=None, alias="gatewayAPI")


class Canary(SpecModel):
    steps: tuple[Step, ...] = Field(default=(), max_length=MAX_STEPS)
    traffic_routing: TrafficRouting | None = Field(default=None, alias="trafficRouting")


class BlueGreen(SpecModel):
    auto_promotion_enabled: bool = Field(default=True, alias="autoPromotionEnabled")
    auto_promotion_seconds: int = Field(default=0, alias="autoPromotionSeconds", ge=0, le=int(MAX_DURATION))
    pre_promotion_analysis: AnalysisRef | None = Field(default=None, alias="prePromotionAnalysis")
    scale_down_delay_seconds: int = Field(default=30, alias="scaleDownDelaySeconds", ge=0, le=int(MAX_DURATION))


class Strategy(SpecModel):
    canary: Canary | None = None
    blue_green: BlueGreen | None = Field(default=None, alias="blueGreen")

    @model_validator(mode="after")
    def _one_strategy(self) -> Strategy:
        if (self.canary is None) == (self.blue_green is None):
            raise ValueError("strategy is exactly one of canary or blueGreen")
        return self


class TargetRef(SpecModel):
    kind: Literal["Deployment"] = "Deployment"
    name: Annotated[Subdomain, Field(max_length=245)]  # room for "-primary"


class ServiceRef(SpecModel):
    name: Annotated[Label, Field(max_length=55)]  # room for "-primary"
    port: int = Field(default=80, ge=1, le=65535)


class RolloutSpec(SpecModel):
    target_ref: TargetRef = Field(alias="targetRef")
    service: ServiceRef
    strategy: Strategy
    analysis: AnalysisRef | None = None
    progress_deadline_seconds: int = Field(default=600, alias="progressDeadlineSeconds", ge=1, le=int(MAX_DURATION))

    @property
    def primary_name(self) -> str:
        return f"{self.target_ref.name}-primary"

    def steps(self) -> tuple[Step, ...]:
        """The steps a new revision goes through; blue-green is a fixed sequence of them."""
        if self.strategy.canary is not None:
            return self.strategy.canary.steps
        bg = self.strategy.blue_green
        assert bg is not None
        steps = [Step(setWeight=0)]  # the preview: the canary at full size, no traffic
        if bg.pre_promotion_analysis is not None:
            steps.append(Step(analysis=bg.pre_promotion_analysis))
        if bg.auto_promotion_enabled:
            steps.append(Step(pause=Pause(duration=f"{bg.auto_promotion_seconds}s")))
        else:
            steps.append(Step(pause=Pause()))
        return tuple(steps)


# ---------------------------------------------------------------------------------- AnalysisTemplate


class Prometheus(SpecModel):
    address: Url
    query: str = Field(min_length=1, max_length=MAX_QUERY)


class Header(SpecModel):
    name: Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", max_length=256)]
    value: Annotated[str, Field(pattern=r"^[ -~]*$", max_length=4096)]


class Web(SpecModel):
    url: Url
    method: Literal["GET", "POST"] = "GET"
    headers: tuple[Header, ...] = Field(default=(), max_length=32)
    body: str = Field(default="", max_length=65536)
    json_path: str = Field(default="$", alias="jsonPath", pattern=r"^\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])*$", max_length=512)
    timeout_seconds: int = Field(default=10, alias="timeoutSeconds", ge=1, le=60)


class JobProvider(SpecModel):
    spec: dict[str, Any]


class Provider(SpecModel):
    prometheus: Prometheus | None = None
    web: Web | None = None
    job: JobProvider | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> Provider:
        if sum(x is not None for x in (self.prometheus, self.web, self.job)) != 1:
            raise ValueError("a provider is exactly one of prometheus, web or job")
        return self


class Metric(SpecModel):
    name: Label
    interval: Duration = "10s"
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    failure_limit: int = Field(default=0, alias="failureLimit", ge=0, le=MAX_COUNT)
    inconclusive_limit: int = Field(default=3, alias="inconclusiveLimit", ge=0, le=MAX_COUNT)
    success_condition: str = Field(default="", alias="successCondition", max_length=MAX_CONDITION)
    provider: Provider


class AnalysisTemplateSpec(SpecModel):
    metrics: tuple[Metric, ...] = Field(min_length=1, max_length=MAX_METRICS)
