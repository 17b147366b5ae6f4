"""API discovery: which resource (plural, scope) serves a group/version/kind, and the REST paths.

Used by `gitward.kube.client` to build URLs and by planning (through the client) to know whether a
kind is namespaced. Group versions are fetched lazily, once, and re-fetched when a kind is unknown
(a CRD may have been created since).

Names in paths come from rendered manifests, Application specs and API answers: hostile input. Each
one becomes exactly one path segment or the request is refused (`UnsafeRequestError`, before
anything is sent): Kubernetes' own path-segment rule (not `.` or `..`, no `/` or `%`; the API server
routes on the *decoded* path, so an encoded `/` would still split a segment) plus "not empty", and
everything outside unreserved characters, `:` and `@` is percent-encoded (`?`, `#`, spaces, CR/LF,
non-ASCII). `check_path` holds every path the client sends to the same shape.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from gitward.kube.errors import UnsafeRequestError

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_GROUP = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_VERSION = re.compile(_LABEL)
_SEGMENT_SAFE = ":@"
"""Left as they are in a segment besides unreserved characters (RBAC names use `:`)."""
_PATH = re.compile(r"/[!-\"$-~]*")
"""What `check_path` accepts at all: visible ASCII after a leading `/`, no `#`."""
_ESCAPES = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        """The REST path of the collection (`name` None), or of one object (and its subresource).

        Every name is one percent-encoded segment; an empty `name`, or a namespace, name, plural or
        subresource that cannot be one segment, raises `UnsafeRequestError`."""
        base = gv_path(self.group, self.version)
        if self.namespaced and namespace:
            base += "/namespaces/" + segment(namespace, "namespace")
        base += "/" + segment(self.plural, "resource")
        if name is not None:
            base += "/" + segment(name, "name")
            if subresource:
                base += "/" + segment(subresource, "subresource")
        return base


def segment(value: str, what: str) -> str:
    """`value` as exactly one URL path segment, percent-encoded; `what` names it in the error."""
    if value in ("", ".", "..") or "/" in value or "%" in value:
        shown = repr(value[:80]) + ("…" if len(value) > 80 else "")
        raise UnsafeRequestError(
            f"{what} {shown} cannot be a URL path segment (empty, '.', '..', or contains '/' or '%')"
        )
    return urllib.parse.quote(value, safe=_SEGMENT_SAFE)


def is_group_version(group: str, version: str) -> bool:
    """Whether `group`/`version` can name an API at all (a DNS subdomain or "", and a DNS label)."""
    return (
        (group == "" or (len(group) <= 253 and _GROUP.fullmatch(group) is not None))
        and len(version) <= 63
        and _VERSION.fullmatch(version) is not None
    )


def gv_path(group: str, version: str) -> str:
    if not is_group_version(group, version):
        shown = repr(f"{group}/{version}"[:120])
        raise UnsafeRequestError(f"API group/version {shown} is not a valid group and version")
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def check_path(path: str) -> str:
    """`path` (with an optional query) when the API server reads it as written; else UnsafeRequestError.

    Refused: no leading `/`; whitespace, control, non-ASCII characters or `#` anywhere; an empty,
    `.` or `..` segment, also when percent-encoded (HTTP clients and servers remove dot segments);
    a segment that decodes to something with `/` in it; a `%` that does not start an escape. Such a
    path would reach the API server changed (httpx2 removes dot segments, the server decodes `%2F`
    before routing) or differently on the two request paths of the client."""
    if not _PATH.fullmatch(path):
        raise UnsafeRequestError("request path must start with '/' and hold only visible ASCII characters, no '#'")
    route, _, query = path.partition("?")
    if not _ESCAPES.fullmatch(query):
        raise UnsafeRequestError("request query has a '%' that is not an escape")
    if route == "/":
        return path
    for raw in route[1:].split("/"):
        if not _ESCAPES.fullmatch(raw):
            raise UnsafeRequestError(f"request path segment {raw[:80]!r} has a '%' that is not an escape")
        decoded = urllib.parse.unquote(raw)
        if decoded in ("", ".", "..") or "/" in decoded:
            raise UnsafeRequestError(
                f"request path segment {raw[:80]!r} is empty, a dot segment or an encoded '/': the path would change"
            )
    return path


def parse_resource_list(group: str, version: str, body: dict[str, Any]) -> dict[str, ResourceInfo]:
    """Map kind → ResourceInfo from an APIResourceList, skipping subresources."""
    found: dict[str, ResourceInfo] = {}
    for res in body.get("resources") or []:
        name = str(res.get("name", ""))
        if not name or "/" in name:
            continue
        kind = str(res.get("kind", ""))
        found.setdefault(
            kind,
            ResourceInfo(group, version, kind, name, bool(res.get("namespaced")), frozenset(res.get("verbs") or ())),
        )
    return found
