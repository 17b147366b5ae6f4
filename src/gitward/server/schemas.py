"""The JSON shapes of the REST API (`/api/v1`), as pydantic models: they validate request bodies
and document every response in the OpenAPI document (`/api/v1/openapi.json`).

Used by the routers (gitward.server.api_applications, api_operations, events); built from
Application objects by gitward.server.views. Field names are the JSON names (camelCase, like the
custom resource). Status models allow extra fields, so what the controller adds later still shows.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gitward.core import identifiers

__all__ = [
    "ApplicationDetail",
    "ApplicationList",
    "ApplicationStatus",
    "ApplicationSummary",
    "Condition",
    "DiffList",
    "Error",
    "HistoryEntry",
    "HistoryList",
    "ObjectDiff",
    "OperationAccepted",
    "RefreshRequest",
    "ResourceList",
    "ResourceRow",
    "RollbackRequest",
    "SyncRequest",
]


class _Open(BaseModel):
    """A part of the custom resource: known fields typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    detail: str = Field(description="What went wrong, for a human.")


class Condition(_Open):
    type: str
    status: str = Field(description='"True" or "False"')
    reason: str = ""
    message: str = ""
    lastTransitionTime: str = ""


class ApplicationSummary(BaseModel):
    """One row of the application list."""

    namespace: str
    name: str
    project: str
    repoURL: str
    path: str
    targetRevision: str
    destinationNamespace: str
    destinationCluster: str
    automated: bool = Field(description="Automated sync is configured.")
    suspend: bool
    syncStatus: str = Field(description="Synced | OutOfSync | Unknown")
    healthStatus: str = Field(description="Healthy | Progressing | Degraded | Suspended | Missing | Unknown")
    healthMessage: str = ""
    revision: str = Field(description="The commit SHA the last reconcile compared against (status.sync.revision).")
    lastSyncedRevision: str = ""
    lastSyncedAt: str | None = Field(None, description="When the last successful sync finished.")
    reconciledAt: str | None = Field(None, description="End of the last completed re-check.")
    operationPhase: str | None = Field(None, description="Running | Succeeded | Failed | Error")
    conditions: list[Condition] = []


class ApplicationList(BaseModel):
    items: list[ApplicationSummary]


class Health(_Open):
    status: str
    message: str = ""


class ResourceRow(_Open):
    group: str = ""
    version: str = ""
    kind: str
    namespace: str = ""
    name: str
    status: str = Field(description="Synced | OutOfSync | Pruned | Failed")
    health: Health | None = None
    message: str = ""


class ResourceList(BaseModel):
    items: list[ResourceRow]


class HistoryEntry(_Open):
    id: int
    revision: str
    author: str = ""
    message: str = ""
    committedAt: str = ""
    deployedAt: str = ""
    initiatedBy: str = Field("", description="automated | manual | rollback | webhook")
    initiator: str = Field("", description="who asked, when known: an API token's name, a user")
    result: str = Field("", description="Succeeded | Failed")


class HistoryList(BaseModel):
    items: list[HistoryEntry]


class SyncInfo(_Open):
    status: str = "Unknown"
    revision: str = ""


class ApplicationStatus(_Open):
    observedGeneration: int | None = None
    sync: SyncInfo | None = None
    health: Health | None = None
    conditions: list[Condition] = []
    lastAttemptedRevision: str = ""
    lastSyncedRevision: str = ""
    reconciledAt: str = ""
    resources: list[ResourceRow] = []
    operationState: dict[str, Any] | None = None
    history: list[HistoryEntry] = []


class ObjectMeta(_Open):
    name: str
    namespace: str
    uid: str = ""
    resourceVersion: str = ""
    generation: int | None = None
    creationTimestamp: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    finalizers: list[str] = []


class ApplicationDetail(BaseModel):
    """The whole Application (without managedFields)."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any] = Field(description="As in the custom resource (SPEC §2).")
    status: ApplicationStatus


class ObjectDiff(BaseModel):
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    status: str
    diff: str = Field(description="Unified diff live → desired of the fields gitward manages; Secret values masked.")


class DiffList(BaseModel):
    revision: str = Field(description="The revision the desired objects were rendered from.")
    items: list[ObjectDiff]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SyncRequest(_Request):
    revision: str | None = Field(None, max_length=256, description="Branch, tag or commit; default: targetRevision.")

    @field_validator("revision")
    @classmethod
    def _revision_grammar(cls, value: str | None) -> str | None:
        return identifiers.check("revision", value) if value else value

    prune: bool | None = Field(None, description="Prune objects that left Git; default: the automated policy's.")


class RefreshRequest(_Request):
    pass


class RollbackRequest(_Request):
    id: int = Field(description="The history entry to deploy again.")


class OperationAccepted(BaseModel):
    namespace: str
    name: str
    operation: Literal["sync", "refresh", "rollback"]
    request: str = Field(description="The value written to the Application's refresh or sync annotation.")
