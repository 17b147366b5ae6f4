"""Sourcing: fetch Git repositories (shared, shallow, cached), resolve revisions, read commit metadata.

First stage of the pipeline (sourcing → rendering → planning → applying → health → status). The
reconciler holds one `Fetcher` and calls `resolve_and_fetch` then `checkout`; the webhook receiver
uses `normalize` to match repository URLs. Errors are `gitward.core.errors.SourceError`.
"""

from gitward.sourcing.credentials import Credentials
from gitward.sourcing.git import Fetcher, Revision
from gitward.sourcing.urls import normalize

__all__ = ["Credentials", "Fetcher", "Revision", "normalize"]
