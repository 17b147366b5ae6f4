"""The Application and Project resources as typed, validated models (SPEC §2, §6).

Parsed from the custom resource by the controller and the CLI; the pipeline stages receive the
parts they need (`Source`, `Destination`, `SyncPolicy`). Field names follow the CRD (camelCase
aliases), so `Application.model_validate(cr["spec"])` reads a custom resource's spec as is.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class SecretRef(_Model):
    name: str


class DirectorySource(_Model):
    recurse: bool = True
    include: str = "*.{yaml,yml,json}"
    exclude: str = ""


class KustomizeSource(_Model):
    pass


class HelmSource(_Model):
    value_files: tuple[str, ...] = Field(default=(), alias="valueFiles")
    values: dict[str, Any] = Field(default_factory=dict)
    release_name: str = Field(default="", alias="releaseName")


class VerifySource(_Model):
    mode: Literal["head", "none", ""] = "head"
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")


class Source(_Model):
    repo_url: str = Field(alias="repoURL")
    target_revision: str = Field(default="HEAD", alias="targetRevision")
    path: str = "."
    chart: str = ""
    directory: DirectorySource | None = None
    kustomize: KustomizeSource | None = None
    helm: HelmSource | None = None
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    verify: VerifySource | None = None

    @field_validator("target_revision", mode="before")
    @classmethod
    def _default_revision(cls, v: Any) -> Any:
        return v or "HEAD"

    @field_validator("path", mode="before")
    @classmethod
    def _default_path(cls, v: Any) -> Any:
        return v or "."


class Destination(_Model):
    namespace: str = ""
    cluster: str = "in-cluster"


class Automated(_Model):
    prune: bool = False
    self_heal: bool = Field(default=False, alias="selfHeal")
    allow_empty: bool = Field(default=False, alias="allowEmpty")


class Backoff(_Model):
    duration: str = "5s"
    factor: float = 2.0
    max_duration: str = Field(default="3m", alias="maxDuration")


class Retry(_Model):
    limit: int = 5
    backoff: Backoff = Backoff()


class SyncPolicy(_Model):
    automated: Automated | None = None
    interval: str = "3m"
    retry: Retry = Retry()
    sync_options: tuple[str, ...] = Field(default=(), alias="syncOptions")

    def option(self, name: str) -> str | None:
        """The value of `Name=value` in syncOptions, or None."""
        for opt in self.sync_options:
            key, _, value = opt.partition("=")
            if key == name:
                return value
        return None


class ApplicationSpec(_Model):
    project: str = "default"
    source: Source
    destination: Destination = Destination()
    service_account_name: str = Field(default="", alias="serviceAccountName")
    sync_policy: SyncPolicy = Field(default=SyncPolicy(), alias="syncPolicy")
    suspend: bool = False
    revision_history_limit: int = Field(default=10, alias="revisionHistoryLimit")


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
