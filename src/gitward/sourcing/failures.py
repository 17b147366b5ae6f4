"""Turning a failed git command into a clear, redacted SourceError.

Called by the `Fetcher` (gitward.sourcing.git) when `git ls-remote` or `git fetch` fails. The reason
tells the user what to fix and becomes the condition's reason (SPEC §2):

    AuthenticationFailed   credentials refused or missing, or the SSH host key is not in knownHosts
    RevisionNotFound       the branch, tag or commit does not exist on the remote
    FetchFailed            the server is unreachable, the repository does not exist, anything else

Every message goes through `gitward.core.redaction.redact` with the credentials' secrets, so neither
passwords, tokens, keys nor URL userinfo/query strings ever leave this module.
"""

from __future__ import annotations

from gitward.core.errors import SourceError
from gitward.core.redaction import redact

__all__ = ["AUTH_FAILED", "FETCH_FAILED", "REVISION_NOT_FOUND", "classify", "from_stderr", "source_error"]

AUTH_FAILED = "AuthenticationFailed"
REVISION_NOT_FOUND = "RevisionNotFound"
FETCH_FAILED = "FetchFailed"

_HOST_KEY = ("host key verification failed", "remote host identification has changed", "no matching host key")
_AUTH = (
    "authentication failed", "could not read username", "could not read password", "terminal prompts disabled",
    "permission denied", "access denied", "returned error: 401", "returned error: 403", "invalid credentials",
    "invalid username or password", "load key", "invalid format", "bad permissions",
)  # fmt: skip
_NO_REVISION = ("not our ref", "couldn't find remote ref", "no such remote ref", "unadvertised object")
_NO_REPO = (
    "repository not found", "does not appear to be a git repository", "no such repository", "returned error: 404",
    "not found",
)  # fmt: skip
_UNREACHABLE = (
    "could not resolve host", "connection refused", "failed to connect", "unable to connect",
    "connection timed out", "no route to host", "network is unreachable", "connection reset",
    "connection closed", "could not read from remote repository", "unable to access",
)  # fmt: skip

_NOISE = ("hint:", "@@@", "Please make sure you have", "and the repository exists", "Please contact your")

_RULES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (_HOST_KEY, AUTH_FAILED, "SSH host key verification failed: the server's key is not in knownHosts"),
    (_AUTH, AUTH_FAILED, "authentication failed: check the credentials in spec.source.secretRef"),
    (_NO_REVISION, REVISION_NOT_FOUND, "revision not found on the remote"),
    (_NO_REPO, FETCH_FAILED, "repository not found (or not visible with these credentials)"),
    (_UNREACHABLE, FETCH_FAILED, "cannot reach the repository server"),
)


def classify(stderr: str) -> tuple[str, str]:
    """The (reason, human summary) for git's stderr."""
    lowered = stderr.lower()
    for needles, reason, summary in _RULES:
        if any(needle in lowered for needle in needles):
            return reason, summary
    return FETCH_FAILED, "git failed"


def source_error(
    subject: str, summary: str, *, reason: str, detail: str = "", secrets: tuple[str, ...] = ()
) -> SourceError:
    """A SourceError `<subject>: <summary> (<detail>)`, redacted against `secrets`."""
    message = f"{subject}: {summary}"
    excerpt = _excerpt(detail)
    if excerpt:
        message += f" (git: {excerpt})"
    return SourceError(redact(message, secrets), reason=reason)


def from_stderr(subject: str, stderr: str, secrets: tuple[str, ...]) -> SourceError:
    """A SourceError for a failed git command, classified from its stderr."""
    reason, summary = classify(stderr)
    return source_error(subject, summary, reason=reason, detail=stderr, secrets=secrets)


def _excerpt(stderr: str, limit: int = 300) -> str:
    lines = [line.strip() for line in stderr.splitlines()]
    useful = [line for line in lines if line and not line.startswith(_NOISE)]
    text = "; ".join(useful[-2:])
    return text if len(text) <= limit else text[: limit - 1] + "…"
