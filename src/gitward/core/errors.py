"""gitward's error trees.

Two families, as the operator literature recommends:

    GitwardError
    ├── ReconcileError            a step of the pipeline failed for this Application
    │   ├── TemporaryError        retry after a delay (network, API server busy, Git unreachable)
    │   └── PermanentError        no point retrying the same input (broken YAML, rejected object);
    │                             a new commit or spec change is needed
    └── (Kubernetes API errors live in gitward.kube.errors and derive from GitwardError too)

Every error carries a `reason` (CamelCase, used in conditions and events) and a message that starts
with the object or file it is about. Messages never carry credentials or Secret data.
"""

from __future__ import annotations


class GitwardError(Exception):
    """Base of every error gitward raises on purpose."""

    reason: str = "Error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class ReconcileError(GitwardError):
    """A step of the reconcile pipeline failed; `condition` names the status condition to set."""

    condition: str = "Stalled"


class TemporaryError(ReconcileError):
    """Worth retrying the same input later (with the Application's backoff)."""

    def __init__(self, message: str, *, reason: str | None = None, delay: float | None = None) -> None:
        super().__init__(message, reason=reason)
        self.delay = delay


class PermanentError(ReconcileError):
    """Retrying the same input gives the same result; wait for a new revision or spec."""


class SourceError(TemporaryError):
    """Fetching from Git failed (unreachable, bad credentials, unknown revision, limits)."""

    condition = "SourceError"
    reason = "FetchFailed"


class RenderError(PermanentError):
    """The revision could not be rendered into objects (file and line in the message)."""

    condition = "RenderError"
    reason = "RenderFailed"


class ValidationError(PermanentError):
    """The API server (dry-run) or a policy refused an object of the revision."""

    condition = "ValidationError"
    reason = "ValidationFailed"


class SyncError(TemporaryError):
    """Applying or pruning failed part-way (after validation passed)."""

    condition = "SyncError"
    reason = "SyncFailed"
