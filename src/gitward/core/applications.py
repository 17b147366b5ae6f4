"""The Application and Project resources as typed, validated models (SPEC §2, §6).

Parsed from the custom resource by the controller and the CLI; the pipeline stages receive the
parts they need (`Source`, `Destination`, `SyncPolicy`). Field names follow the CRD (camelCase
aliases), so `Application.model_validate(cr["spec"])` reads a custom resource's spec as is.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from gitward.core.identifiers import check

API_GROUP = "gitward.dev"
API_VERSION = "gitward.dev/v1alpha1"

# annotations and labels (SPEC §2)
TRACKING_ID = "gitward.dev/tracking-id"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "gitward"
SYNC_WAVE = "gitward.dev/sync-wave"
PRUNE = "gitward.dev/prune"
REFRESH = "gitward.dev/refresh"
SYNC = "gitward.dev/sync"
DELETION_POLICY = "gitward.dev/deletion-policy"
FINALIZER = "gitward.dev/cleanup"
SUBSTITUTE = "gitward.dev/substitute"  # "disabled": no variable substitution in this object


class SpecModel(BaseModel):
    """The base of every spec model (Applications, notifications): frozen, camelCase aliases, null = absent."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        """A field set to null (the CRDs mark optional strings nullable) means its default."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def grammar(name: str) -> AfterValidator:
    """A validator holding a string field to one of `gitward.core.identifiers`' grammars."""
    return AfterValidator(lambda value: check(name, value))


# every identifier a spec carries, held to its grammar (gitward.core.identifiers; the CRDs carry the
# same patterns): a value that reaches a header, a URL, an argument list or a path is never free text
Label = Annotated[str, grammar("label")]
Subdomain = Annotated[str, grammar("subdomain")]
OptionalLabel = Annotated[str, grammar("optional-label")]
OptionalSubdomain = Annotated[str, grammar("optional-subdomain")]
RepoPath = Annotated[str, grammar("path")]
Revision = Annotated[str, grammar("revision")]
Glob = Annotated[str, grammar("glob")]


class SecretRef(SpecModel):
    name: Subdomain


class DirectorySource(SpecModel):
    recurse: bool = True
    include: Glob = "*.{yaml,yml,json}"
    exclude: Glob = ""


MAX_OPTION_VALUE = 16 * 1024
"""Longest annotation value or substitution variable value in a spec (the CRD says the same)."""
MAX_PATCH = 64 * 1024
"""Longest inline kustomize patch."""
QualifiedName = Annotated[str, grammar("qualified-name")]
OptionValue = Annotated[str, Field(max_length=MAX_OPTION_VALUE)]


def _keys(grammar_name: str) -> AfterValidator:
    """A validator holding every key of a mapping field to a grammar (CRDs cannot check keys)."""

    def keys(mapping: dict[str, Any]) -> dict[str, Any]:
        for key in mapping:
            check(grammar_name, key)
        return mapping

    return AfterValidator(keys)


class PatchTarget(SpecModel):
    """Which objects of the render a kustomize patch applies to (kustomize's patch target)."""

    group: Annotated[str, grammar("group")] = ""
    version: Annotated[str, grammar("patch-version")] = ""
    kind: Annotated[str, grammar("kind")] | None = None
    name: Annotated[str, grammar("patch-name")] = ""
    namespace: OptionalSubdomain = ""
    label_selector: Annotated[str, grammar("selector")] = Field(default="", alias="labelSelector")
    annotation_selector: Annotated[str, grammar("selector")] = Field(default="", alias="annotationSelector")


class KustomizePatch(SpecModel):
    """An inline patch (strategic merge or JSON 6902), applied by kustomize to the render's objects."""

    target: PatchTarget | None = None
    patch: Annotated[str, Field(min_length=1, max_length=MAX_PATCH)]


class KustomizeSource(SpecModel):
    """Options applied by kustomize itself, through an overlay generated in the render's private copy."""

    images: tuple[Annotated[str, grammar("image")], ...] = Field(default=(), max_length=64)
    name_prefix: Annotated[str, grammar("name-prefix")] = Field(default="", alias="namePrefix")
    name_suffix: Annotated[str, grammar("name-suffix")] = Field(default="", alias="nameSuffix")
    common_labels: Annotated[dict[str, Annotated[str, grammar("label-value")]], _keys("qualified-name")] = Field(
        default_factory=dict, alias="commonLabels", max_length=64
    )
    common_annotations: Annotated[dict[str, OptionValue], _keys("qualified-name")] = Field(
        default_factory=dict, alias="commonAnnotations", max_length=64
    )
    patches: tuple[KustomizePatch, ...] = Field(default=(), max_length=64)

    def is_empty(self) -> bool:
        """Whether no option is set (`kustomize: {}` only chooses the engine)."""
        return self == KustomizeSource()


class ValuesReference(SpecModel):
    """A ConfigMap or Secret of the Application's namespace holding Helm values (Flux's valuesFrom)."""

    kind: Literal["ConfigMap", "Secret"]
    name: Subdomain
    values_key: Annotated[str, grammar("config-key")] = Field(default="values.yaml", alias="valuesKey")
    optional: bool = False


class HelmSource(SpecModel):
    value_files: tuple[Annotated[str, grammar("value-file")], ...] = Field(
        default=(), alias="valueFiles", max_length=64
    )
    values: dict[str, Any] = Field(default_factory=dict)
    release_name: Annotated[str, grammar("release-name")] = Field(default="", alias="releaseName")
    values_from: tuple[ValuesReference, ...] = Field(default=(), alias="valuesFrom", max_length=32)


class SubstituteReference(SpecModel):
    """A ConfigMap or Secret of the Application's namespace whose entries are substitution variables."""

    kind: Literal["ConfigMap", "Secret"]
    name: Subdomain
    optional: bool = False


class Substitute(SpecModel):
    """`${var}` / `${var:=default}` replaced in the rendered objects' strings (Flux postBuild)."""

    vars: Annotated[dict[str, OptionValue], _keys("variable")] = Field(default_factory=dict, max_length=256)
    from_: tuple[SubstituteReference, ...] = Field(default=(), alias="from", max_length=32)
    strict: bool = False


class Decryption(SpecModel):
    """SOPS decryption of the render's encrypted files, with the keys of a Secret (SPEC §15)."""

    provider: Literal["sops"] = "sops"
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")


class VerifySource(SpecModel):
    mode: Literal["head", "none", ""] = "head"
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")


class Source(SpecModel):
    repo_url: Annotated[str, grammar("url")] = Field(alias="repoURL")
    target_revision: Revision = Field(default="HEAD", alias="targetRevision")
    path: RepoPath = "."
    chart: Annotated[str, grammar("chart")] = ""
    directory: DirectorySource | None = None
    kustomize: KustomizeSource | None = None
    helm: HelmSource | None = None
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    verify: VerifySource | None = None
    insecure: bool = False
    """`oci://` sources: allow a plain-HTTP registry (SPEC §12)."""

    @property
    def is_oci(self) -> bool:
        return self.repo_url.startswith("oci://")

    substitute: Substitute | None = None

    @field_validator("target_revision", mode="before")
    @classmethod
    def _default_revision(cls, v: Any) -> Any:
        return v or "HEAD"

    @field_validator("path", mode="before")
    @classmethod
    def _default_path(cls, v: Any) -> Any:
        return v or "."


class Destination(SpecModel):
    namespace: OptionalLabel = ""
    cluster: Subdomain = "in-cluster"


class Automated(SpecModel):
    prune: bool = False
    self_heal: bool = Field(default=False, alias="selfHeal")
    allow_empty: bool = Field(default=False, alias="allowEmpty")


class Backoff(SpecModel):
    duration: str = "5s"
    factor: float = 2.0
    max_duration: str = Field(default="3m", alias="maxDuration")


class Retry(SpecModel):
    limit: int = Field(default=5, ge=0)
    backoff: Backoff = Backoff()


class SyncPolicy(SpecModel):
    automated: Automated | None = None
    interval: str = "3m"
    retry: Retry = Retry()
    sync_options: tuple[Annotated[str, grammar("sync-option")], ...] = Field(
        default=(), alias="syncOptions", max_length=64
    )

    def option(self, name: str) -> str | None:
        """The value of `Name=value` in syncOptions, or None."""
        for opt in self.sync_options:
            key, _, value = opt.partition("=")
            if key == name:
                return value
        return None


MAX_EXPRESSION = 4096
"""Longest CEL expression in a spec (health checks); the CRD carries the same maxLength."""
Expression = Annotated[str, Field(max_length=MAX_EXPRESSION)]


class HealthCheck(SpecModel):
    """CEL over the live object deciding the health of a kind (SPEC §13, Flux's healthCheckExprs)."""

    group: Annotated[str, grammar("group")] = ""
    kind: Annotated[str, grammar("kind")]
    current: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION)]
    in_progress: Expression = Field(default="", alias="inProgress")
    failed: Expression = ""


class IgnoreDifference(SpecModel):
    """Fields gitward neither applies over nor counts as drift (SPEC §13, `planning.ignoring`)."""

    group: Annotated[str, grammar("group")] = ""
    kind: Annotated[str, grammar("kind")]
    name: OptionalSubdomain = ""
    namespace: OptionalLabel = ""
    json_pointers: tuple[Annotated[str, grammar("json-pointer")], ...] = Field(
        default=(), alias="jsonPointers", max_length=64
    )
    managed_fields_managers: tuple[Annotated[str, grammar("field-manager")], ...] = Field(
        default=(), alias="managedFieldsManagers", max_length=16
    )


class Dependency(SpecModel):
    """An Application that must be Synced and Healthy before this one syncs (SPEC §11)."""

    name: Subdomain
    namespace: OptionalLabel = ""


class ApplicationSpec(SpecModel):
    project: Label = "default"
    source: Source
    destination: Destination = Destination()
    service_account_name: OptionalSubdomain = Field(default="", alias="serviceAccountName")
    sync_policy: SyncPolicy = Field(default=SyncPolicy(), alias="syncPolicy")
    suspend: bool = False
    revision_history_limit: int = Field(default=10, alias="revisionHistoryLimit", ge=0, le=1000)
    health_checks: tuple[HealthCheck, ...] = Field(default=(), alias="healthChecks", max_length=64)
    ignore_differences: tuple[IgnoreDifference, ...] = Field(default=(), alias="ignoreDifferences", max_length=64)
    depends_on: tuple[Dependency, ...] = Field(default=(), alias="dependsOn", max_length=64)
    decryption: Decryption | None = None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go-style durations (`90s`, `3m`, `1h30m`, `500ms`) → seconds. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return total


def short_revision(revision: str, length: int = 12) -> str:
    """A revision for people: the first `length` hex digits of a commit SHA, or of an OCI digest
    after its algorithm (`sha256:0123456789ab`), so digests stay as distinguishable as SHAs."""
    algorithm, sep, digest = revision.partition(":")
    return f"{algorithm}:{digest[:length]}" if sep else revision[:length]
