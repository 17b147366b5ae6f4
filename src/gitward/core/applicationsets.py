"""The ApplicationSet resource (SPEC §11) as typed, validated models.

Parsed from the custom resource by the ApplicationSet controller (`gitward.controller.appsets`) and
the CLI. Generators and the template are checked here; the template's strings are rendered later (in
a sandbox) and each rendered Application spec is validated by `gitward.core.applications`. Field
names follow the CRD (camelCase aliases), as for Applications.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from gitward.core.applications import (
    Glob,
    Revision,
    SecretRef,
    SpecModel,
    grammar,
    parse_duration,
)

KIND = "ApplicationSet"
SET_LABEL = "gitward.dev/application-set"
"""Label on every generated Application: the name of its ApplicationSet."""
ROLLOUT_STEP = "gitward.dev/rollout-step"
"""Annotation on generated Applications of a RollingSync set: their step (1-based)."""
SPEC_HASH = "gitward.dev/application-set-hash"
"""Annotation on generated Applications: a digest of what the set generated (skip unchanged writes)."""

MAX_ELEMENTS = 10_000
"""Most parameter sets one generator may produce (list elements, directories, files, clusters)."""
MAX_NESTING = 3
"""Deepest nesting of matrix/merge generators."""

LabelKey = Annotated[str, grammar("label-key")]
LabelValue = Annotated[str, grammar("label-value")]
TemplateText = Annotated[str, Field(max_length=4096)]


class Requirement(SpecModel):
    """One `matchExpressions` entry of a label selector."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[LabelValue, ...] = Field(default=(), max_length=256)


class LabelSelector(SpecModel):
    match_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, alias="matchLabels", max_length=64)
    match_expressions: tuple[Requirement, ...] = Field(default=(), alias="matchExpressions", max_length=64)

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(_requirement_holds(r, labels) for r in self.match_expressions)


def _requirement_holds(req: Requirement, labels: dict[str, str]) -> bool:
    present = req.key in labels
    if req.operator == "Exists":
        return present
    if req.operator == "DoesNotExist":
        return not present
    inside = present and labels[req.key] in req.values
    return inside if req.operator == "In" else not inside


class ListGenerator(SpecModel):
    elements: tuple[dict[str, Any], ...] = Field(default=(), max_length=MAX_ELEMENTS)


class GitDirectory(SpecModel):
    path: Glob
    exclude: bool = False


class GitFile(SpecModel):
    path: Glob


class GitGenerator(SpecModel):
    repo_url: Annotated[str, grammar("url")] = Field(alias="repoURL")
    revision: Revision = "HEAD"
    directories: tuple[GitDirectory, ...] = Field(default=(), max_length=64)
    files: tuple[GitFile, ...] = Field(default=(), max_length=64)
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")

    @field_validator("revision", mode="before")
    @classmethod
    def _default_revision(cls, v: Any) -> Any:
        return v or "HEAD"

    @model_validator(mode="after")
    def _one_kind(self) -> GitGenerator:
        if bool(self.directories) == bool(self.files):
            raise ValueError("a git generator has either directories or files (exactly one of them)")
        return self


class ClustersGenerator(SpecModel):
    selector: LabelSelector = LabelSelector()


class MatrixGenerator(SpecModel):
    generators: tuple[Generator, ...] = Field(min_length=2, max_length=2)


class MergeGenerator(SpecModel):
    merge_keys: tuple[Annotated[str, Field(min_length=1, max_length=253)], ...] = Field(
        alias="mergeKeys", min_length=1, max_length=16
    )
    generators: tuple[Generator, ...] = Field(min_length=2, max_length=8)


_KINDS = ("list", "git", "clusters", "matrix", "merge")
_FIELD = {"list": "list_"}


class Generator(SpecModel):
    list_: ListGenerator | None = Field(default=None, alias="list")
    git: GitGenerator | None = None
    clusters: ClustersGenerator | None = None
    matrix: MatrixGenerator | None = None
    merge: MergeGenerator | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Generator:
        kinds = [k for k in _KINDS if getattr(self, _FIELD.get(k, k)) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a generator is exactly one of list, git, clusters, matrix, merge (got {kinds or 'none'})"
            )
        if self.depth() > MAX_NESTING:
            raise ValueError(f"matrix/merge generators nest at most {MAX_NESTING} deep")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _KINDS if getattr(self, _FIELD.get(k, k)) is not None)

    def children(self) -> tuple[Generator, ...]:
        nested = self.matrix or self.merge
        return nested.generators if nested is not None else ()

    def depth(self) -> int:
        return 1 + max((child.depth() for child in self.children()), default=0)

    def git_sources(self) -> list[GitGenerator]:
        """Every git generator in this one, nested ones included."""
        found = [self.git] if self.git is not None else []
        for child in self.children():
            found += child.git_sources()
        return found


MatrixGenerator.model_rebuild()
MergeGenerator.model_rebuild()


class TemplateMetadata(SpecModel):
    name: TemplateText
    labels: dict[TemplateText, TemplateText] = Field(default_factory=dict, max_length=64)
    annotations: dict[TemplateText, TemplateText] = Field(default_factory=dict, max_length=64)


class Template(SpecModel):
    metadata: TemplateMetadata
    spec: dict[str, Any]


class SetSyncPolicy(SpecModel):
    preserve_resources_on_deletion: bool = Field(default=False, alias="preserveResourcesOnDeletion")
    applications_sync: Literal["sync", "create-only", "create-update"] = Field(default="sync", alias="applicationsSync")

    @property
    def may_update(self) -> bool:
        return self.applications_sync in ("sync", "create-update")

    @property
    def may_delete(self) -> bool:
        return self.applications_sync == "sync"


class Step(SpecModel):
    match_expressions: tuple[Requirement, ...] = Field(default=(), alias="matchExpressions", max_length=64)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(_requirement_holds(r, labels) for r in self.match_expressions)


class RollingSync(SpecModel):
    steps: tuple[Step, ...] = Field(default=(), max_length=64)


class Strategy(SpecModel):
    type: Literal["AllAtOnce", "RollingSync"] = "AllAtOnce"
    rolling_sync: RollingSync = Field(default=RollingSync(), alias="rollingSync")

    def step_of(self, labels: dict[str, str]) -> int:
        """The 1-based step an Application with `labels` belongs to; past the last step when none
        matches; 0 when the strategy is not RollingSync."""
        if self.type != "RollingSync":
            return 0
        steps = self.rolling_sync.steps
        return next((i for i, step in enumerate(steps, 1) if step.matches(labels)), len(steps) + 1)


class ApplicationSetSpec(SpecModel):
    generators: tuple[Generator, ...] = Field(min_length=1, max_length=16)
    template: Template
    sync_policy: SetSyncPolicy = Field(default=SetSyncPolicy(), alias="syncPolicy")
    strategy: Strategy = Strategy()
    interval: str = "3m"

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        parse_duration(v or "3m")
        return v or "3m"

    @property
    def interval_seconds(self) -> float:
        return max(parse_duration(self.interval), 1.0)

    def git_sources(self) -> list[GitGenerator]:
        return [git for generator in self.generators for git in generator.git_sources()]
