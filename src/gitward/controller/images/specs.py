"""The specs of ImageRepository, ImagePolicy and ImageUpdateAutomation (SPEC §12), validated.

Read by the image automation controllers (gitward.controller.images.scanning and .updating) from
the objects their informers hold; every identifier is held to the grammars of
`gitward.core.identifiers` (the CRDs under deploy/crds/ carry the same patterns), so a name, a
branch or an author line that reaches git's argument list or a commit is never free text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from gitward.core.applications import RepoPath, SecretRef, SpecModel, Subdomain, grammar

__all__ = [
    "API_VERSION", "Author", "AutomationSpec", "Commit", "GitSpec", "PolicySpec", "RepositorySpec", "SourceRef",
]  # fmt: skip

API_VERSION = "gitward.dev/v1alpha1"
Duration = Annotated[str, grammar("duration")]
Branch = Annotated[str, grammar("branch")]


class RepositorySpec(SpecModel):
    image: Annotated[str, grammar("url")]
    interval: Duration = "1m"
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    insecure: bool = False
    suspend: bool = False


class RepositoryRef(SpecModel):
    name: Subdomain


class FilterTags(SpecModel):
    pattern: Annotated[str, Field(max_length=1024)] = ""
    extract: Annotated[str, Field(max_length=255)] = ""


class PolicySpec(SpecModel):
    image_repository_ref: RepositoryRef = Field(alias="imageRepositoryRef")
    policy: dict[str, Any]
    filter_tags: FilterTags | None = Field(default=None, alias="filterTags")


class SourceRef(SpecModel):
    kind: Literal["Application"] = "Application"
    name: Subdomain


class Author(SpecModel):
    name: Annotated[str, grammar("author-name")] = "gitward"
    email: Annotated[str, grammar("email")]


class SigningKey(SpecModel):
    secret_ref: SecretRef = Field(alias="secretRef")
    type: Literal["", "gpg", "ssh"] | None = None  # as Flux's; empty: by the Secret's key (git.asc or identity)


DEFAULT_MESSAGE = "Update images\n\n{{ .Changes }}"


class Commit(SpecModel):
    author: Author = Author(email="gitward@localhost")
    message_template: Annotated[str, Field(max_length=4096)] = Field(default=DEFAULT_MESSAGE, alias="messageTemplate")
    signing_key: SigningKey | None = Field(default=None, alias="signingKey")


class Checkout(SpecModel):
    branch: Branch = ""


class GitSpec(SpecModel):
    repo_url: Annotated[str, grammar("url")] = Field(default="", alias="repoURL")
    secret_ref: SecretRef | None = Field(default=None, alias="secretRef")
    checkout: Checkout = Checkout()
    push: Checkout = Checkout()
    commit: Commit = Commit()


class Update(SpecModel):
    path: RepoPath = "."
    strategy: Literal["Setters"] = "Setters"


class AutomationSpec(SpecModel):
    interval: Duration = "1m"
    suspend: bool = False
    source_ref: SourceRef | None = Field(default=None, alias="sourceRef")
    git: GitSpec = GitSpec()
    update: Update = Update()
