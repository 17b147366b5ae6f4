"""Parsing, validation and normalisation of `spec.source.repoURL`.

Called by the `Fetcher` (gitward.sourcing.git) before any git process sees a URL, and by whoever
needs to decide whether two URLs name the same repository (the webhook receiver, Project
`sourceRepos` matching). A repoURL is hostile input: only plain https, http, ssh (URL and scp-like
`git@host:org/repo.git` forms), git and — when the controller allows it — file URLs pass; git's
`<transport>::<address>` syntax (`ext::`, `fd::`), option-looking values (`-…`, `--upload-pack=`)
and passwords embedded in the URL are refused with a SourceError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from gitward.core.errors import SourceError
from gitward.core.redaction import redact
from gitward.core.repositories import DEFAULT_PORTS, SCHEME_ALIASES

__all__ = ["SCHEMES", "RepoURL", "normalize", "parse"]

SCHEMES = ("https", "http", "ssh", "git", "file")
_MAX_LENGTH = 2048

_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?:(?P<userinfo>[^@/?#]*)@)?"
    r"(?P<host>\[[^\]/]*\]|[^:/?#]*)"
    r"(?::(?P<port>[^/?#]*))?"
    r"(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#(?P<fragment>.*))?$"
)
_SCP = re.compile(r"^(?:(?P<user>[^@/:\[\]]+)@)?(?P<host>\[[^\]/]+\]|[^:/\[\]@]+):(?P<path>.+)$")
_TRANSPORT = re.compile(r"^[A-Za-z0-9+.-]+::")
_OPTIONS = re.compile(r"--(?:upload-pack|receive-pack|exec|config|template)\b")
_HOST = re.compile(r"^(?:[a-z0-9][a-z0-9._-]*|\[[0-9a-f:.]+\])$")
_USER = re.compile(r"^[A-Za-z0-9._~+%][A-Za-z0-9._~+%-]*$")


@dataclass(frozen=True)
class RepoURL:
    """A validated repository URL. `path` keeps its leading `/` except in the scp-like form."""

    scheme: str
    host: str
    path: str
    port: int | None = None
    user: str = ""
    query: str = ""
    scp_like: bool = False

    def for_git(self) -> str:
        """The URL handed to git: never with a password, never with http(s) userinfo."""
        if self.scheme == "file":
            return f"file://{self.path}"
        if self.scp_like:
            return f"{self._user_at()}{self.host}:{self.path}"
        user = self._user_at() if self.scheme == "ssh" else ""
        port = f":{self.port}" if self.port is not None else ""
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{user}{self.host}{port}{self.path}{query}"

    def display(self) -> str:
        """The form used in messages: no userinfo secrets, no query string."""
        return redact(self.for_git())

    def normalized(self) -> str:
        """See `normalize`."""
        if self.scheme == "file":
            return "file://" + _normal_path(self.path, absolute=True)
        port = f":{self.port}" if self.port not in (None, DEFAULT_PORTS.get(self.scheme)) else ""
        return f"{self.host}{port}/{_normal_path(self.path, absolute=False)}"

    def _user_at(self) -> str:
        return f"{self.user}@" if self.user else ""


def parse(url: str, *, allow_file: bool = False) -> RepoURL:
    """Validate `url`; raise SourceError (reason InvalidRepoURL) with a message safe to show."""
    _check_text(url)
    match = _URL.match(url)
    if match is not None:
        return _from_url(url, match, allow_file)
    scp = _SCP.match(url)
    if scp is not None and "/" not in url.split(":", 1)[0]:
        return _from_scp(url, scp)
    raise _invalid(url, "not a repository URL (use https://, http://, ssh://, git://, or git@host:org/repo)")


def normalize(url: str) -> str:
    """A canonical key for matching URLs that name the same repository.

    Lowercase host, no scheme, no userinfo, no query, no default port, percent-encoding decoded, no
    repeated, trailing `/` or `.git` (`oci://host:443/repo` gives `host/repo`):
    `https://GitHub.com/Org/Repo.git`, `ssh://git@github.com/Org/Repo` and `git@github.com:Org/Repo`
    all give `github.com/Org/Repo`. Never raises: an invalid URL gives a best-effort lowercase form.
    """
    url = url.strip()
    if url.lower().startswith("oci://"):  # an OCI repository (SPEC §12): host[:port]/repository over https
        host, slash, path = url[len("oci://") :].partition("/")
        return host.lower().removesuffix(f":{DEFAULT_PORTS['oci']}") + slash + _normal_path(path, absolute=False)
    try:
        return parse(url, allow_file=True).normalized()
    except SourceError:
        return _normal_path(url.strip().lower(), absolute=False)


def _check_text(url: str) -> None:
    if not url:
        raise _invalid(url, "repoURL is empty")
    if len(url) > _MAX_LENGTH:
        raise _invalid(url, f"longer than {_MAX_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise _invalid(url, "contains whitespace or control characters")
    if url.startswith("-"):
        raise _invalid(url, "must not start with '-'")
    if _TRANSPORT.match(url):
        raise _invalid(url, "git remote-helper syntax '<transport>::' is not allowed")
    if _OPTIONS.search(url):
        raise _invalid(url, "looks like a git command-line option")


def _from_url(url: str, match: re.Match[str], allow_file: bool) -> RepoURL:
    scheme = match["scheme"].lower()
    scheme = SCHEME_ALIASES.get(scheme, scheme)
    if scheme not in SCHEMES:
        raise _invalid(url, f"scheme {scheme!r} is not allowed (use https, http, ssh or git)")
    if match["fragment"] is not None:
        raise _invalid(url, "must not contain a fragment ('#')")
    if scheme == "file":
        return _file_url(url, match, allow_file)
    host = _host(url, match["host"])
    port = _port(url, match["port"])
    user = _userinfo(url, match["userinfo"])
    path = match["path"] or "/"
    _check_path(url, path)
    query = match["query"] or ""
    return RepoURL(scheme=scheme, host=host, port=port, user=user, path=path, query=query)


def _from_scp(url: str, match: re.Match[str]) -> RepoURL:
    host = _host(url, match["host"])
    user = _userinfo(url, match["user"])
    path = match["path"]
    _check_path(url, path)
    return RepoURL(scheme="ssh", host=host, user=user, path=path, scp_like=True)


def _file_url(url: str, match: re.Match[str], allow_file: bool) -> RepoURL:
    if not allow_file:
        raise _invalid(url, "file:// repositories are not allowed by this controller")
    if match["host"] not in ("", "localhost") or match["userinfo"] is not None or match["port"] is not None:
        raise _invalid(url, "a file:// URL must be file:///absolute/path")
    path = match["path"] or ""
    if not path.startswith("/") or match["query"] is not None:
        raise _invalid(url, "a file:// URL must be file:///absolute/path")
    _check_path(url, path)
    return RepoURL(scheme="file", host="", path=path)


def _host(url: str, raw: str | None) -> str:
    host = (raw or "").lower()
    if not host:
        raise _invalid(url, "has no host")
    if not _HOST.match(host):
        raise _invalid(url, "has an invalid host name")
    return host


def _port(url: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise _invalid(url, "has an invalid port")
    return int(raw)


def _userinfo(url: str, raw: str | None) -> str:
    if raw is None:
        return ""
    user, has_password, _ = raw.partition(":")
    if has_password:
        raise _invalid(url, "must not carry a password; put credentials in the Secret of spec.source.secretRef")
    if not _USER.match(user):
        raise _invalid(url, "has an invalid user name")
    return user


def _check_path(url: str, path: str) -> None:
    """No option-looking path, and no segment that names another directory once git (curl squashes
    `..`), the server (which decodes `%2e` and `%2f`) or a remote shell resolves it: a Project's
    `https://host/team-a/*` must never admit `https://host/team-a/../team-b/secret`."""
    if path.lstrip("/").startswith("-"):
        raise _invalid(url, "path must not start with '-'")
    decoded = unquote(path)
    if re.search(r"%(?:2f|5c)", path, re.IGNORECASE) or "\\" in decoded:
        raise _invalid(url, "path must not contain an encoded '/' or a backslash")
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise _invalid(url, "path must not contain '.' or '..' segments")


def _normal_path(path: str, *, absolute: bool) -> str:
    path = re.sub(r"/{2,}", "/", unquote(path)).strip("/")
    path = path.removesuffix(".git").rstrip("/")
    return f"/{path}" if absolute else path


def _invalid(url: str, why: str) -> SourceError:
    shown = redact(url)
    shown = shown if len(shown) <= 200 else shown[:200] + "…"
    return SourceError(f"repoURL {shown!r}: {why}", reason="InvalidRepoURL")
