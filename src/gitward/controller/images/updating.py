"""ImageUpdateAutomation runs (SPEC §12, Flux's image-automation-controller).

Called by gitward.controller.images.running when an automation is due (its interval, a spec change,
a policy's new latestImage). One run: find the Git repository (`git.repoURL`, else the Application
of `sourceRef`: its repoURL, credentials Secret and target branch), clone the checkout branch, set
every field under `update.path` marked for one of the namespace's ImagePolicies (`markers`), and
when something changed commit once (author, message template, optional OpenPGP or SSH signature) and push
without force (`gitwork`). Status: `lastPushCommit`, `lastPushTime`, `lastAutomationRunTime`, a
Ready condition. The pushed commit then deploys like any other: `on_pushed` asks the Application to
re-check now.

The message template is a small, safe subset of Flux's Go templates (no code runs): `{{ .AutomationObject }}`
(`namespace/name`), `{{ .Changes }}` (one `- old -> new` line per change), `{{ .Images }}` (the new
images, one per line).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from gitward.controller.images import gitwork, markers, specs
from gitward.controller.images.signing import Signing
from gitward.core.errors import SourceError
from gitward.core.manifests import Manifest
from gitward.sourcing import Credentials, invocations, urls

__all__ = ["Plan", "render_message", "rewrite_tree"]

MAX_FILES = 10_000
MAX_FILE_BYTES = 4 << 20
_SUFFIXES = (".yaml", ".yml")


class Plan:
    """Where and how one automation writes: resolved from its spec and its Application."""

    def __init__(self, key: str, spec: specs.AutomationSpec, app: Manifest | None) -> None:
        self.key = key
        source = ((app or {}).get("spec") or {}).get("source") or {}
        git = spec.git
        app_url = str(source.get("repoURL") or "")
        self.repo_url = git.repo_url or app_url
        # the Application's credentials and branch go only to the Application's own repository: never
        # send one repository's credentials to another host named by git.repoURL
        own = bool(app_url) and urls.normalize(self.repo_url) == urls.normalize(app_url)
        if not own:
            source = {}
        secret = git.secret_ref.name if git.secret_ref else str((source.get("secretRef") or {}).get("name") or "")
        self.secret_name = secret
        revision = str(source.get("targetRevision") or "")
        fallback = (
            revision if revision and revision != "HEAD" and not re.fullmatch(r"[0-9a-f]{40}", revision) else "main"
        )
        self.checkout = git.checkout.branch or fallback
        self.push = git.push.branch or self.checkout
        self.author = gitwork.Identity(git.commit.author.name, git.commit.author.email)
        self.template = git.commit.message_template
        self.signing_secret = git.commit.signing_key.secret_ref.name if git.commit.signing_key else ""
        self.signing_type = (git.commit.signing_key.type or "") if git.commit.signing_key else ""
        self.path = spec.update.path
        if not self.repo_url:
            raise SourceError(f"{key}: no git.repoURL and no Application to take it from", reason="InvalidSpec")
        if self.repo_url.startswith("oci://"):
            raise SourceError(f"{key}: the Application's source is an OCI artifact, not Git", reason="InvalidSpec")


async def run(
    plan: Plan,
    env: invocations.GitEnvironment,
    creds: Credentials,
    latest: Mapping[str, str],
    signing: Signing | None,
    *,
    allow_file: bool = False,
) -> gitwork.PushResult:
    """One automation run (see the module docstring)."""
    url = urls.parse(plan.repo_url, allow_file=allow_file)
    work = gitwork.GitWork(env, url, creds)

    async def apply(tree: Path) -> str:
        changes = await asyncio.to_thread(rewrite_tree, tree, plan.path, latest)
        return render_message(plan.template, plan.key, changes) if changes else ""

    return await gitwork.commit_and_push(work, plan.checkout, plan.push, plan.author, apply, signing=signing)


def rewrite_tree(tree: Path, path: str, latest: Mapping[str, str]) -> list[markers.Change]:
    """Rewrite the marked fields of every YAML file under `tree/path` (symlinks are not followed)."""
    root = (tree / path).resolve()
    if not root.is_relative_to(tree.resolve()):
        raise SourceError(f"update.path {path!r} leaves the repository", reason="InvalidSpec")
    if not root.is_dir():
        raise SourceError(f"update.path {path!r}: no such directory on the branch", reason="InvalidSpec")
    changes: list[markers.Change] = []
    for count, file in enumerate(_yaml_files(root), start=1):
        if count > MAX_FILES:
            raise SourceError(f"update.path {path!r}: more than {MAX_FILES} YAML files", reason="TooLarge")
        if file.stat().st_size > MAX_FILE_BYTES:
            continue
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        new, found, _ = markers.rewrite(text, latest)
        if found:
            file.write_bytes(new.encode("utf-8"))
            changes.extend(found)
    return changes


def _yaml_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for top, subdirs, files in os.walk(root):
        directory = Path(top)
        subdirs[:] = sorted(d for d in subdirs if d != ".git" and not (directory / d).is_symlink())
        found.extend(directory / f for f in sorted(files) if f.endswith(_SUFFIXES) and not (directory / f).is_symlink())
    return found


def render_message(template: str, key: str, changes: list[markers.Change]) -> str:
    """The commit message from the template subset (see the module docstring)."""
    if "{{ range" in template:  # Flux's default-looking Go template: use ours, which says the same
        template = "Update images\n\n{{ .Changes }}"
    lines = "\n".join(f"- {c.old} -> {c.new}" for c in changes)
    images = "\n".join(sorted({c.new for c in changes}))
    values: dict[str, Callable[[], str]] = {
        "AutomationObject": lambda: key,
        "Changes": lambda: lines,
        "Images": lambda: images,
    }

    def fill(match: re.Match[str]) -> str:
        getter = values.get(match.group(1))
        return getter() if getter else match.group(0)

    message = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", fill, template).strip()
    return message or "Update images"
