"""Kubernetes API errors, chosen from the HTTP status of a response.

    KubeError                     (a GitwardError)
    ├── APIError                  the API server answered with a failure Status
    │   ├── APIClientError        4xx
    │   │   ├── APIUnauthorizedError   401
    │   │   ├── APIForbiddenError      403
    │   │   ├── APINotFoundError       404
    │   │   ├── APIConflictError       409
    │   │   ├── APIGoneError           410 (watch: resourceVersion too old)
    │   │   └── APIInvalidError        422
    │   └── APIServerError        5xx, 429
    ├── APIConnectionError        no answer (refused, timeout, TLS)
    └── UnsafeRequestError        refused before anything was sent: a method, target, header or path
                                  segment that would change the request's meaning on the wire

Raised by `gitward.kube.client`; callers catch the narrowest class they can handle.
"""

from __future__ import annotations

from typing import Any

from gitward.core.errors import GitwardError


class KubeError(GitwardError):
    reason = "KubernetesError"


class APIConnectionError(KubeError):
    reason = "APIUnreachable"


class UnsafeRequestError(KubeError):
    """A request gitward refuses to send, raised before any byte reaches the API server: CR, LF, NUL
    or other control characters in a header, a method that is not a token, whitespace in the request
    target, or a name that cannot be one URL path segment (`.`, `..`, empty, containing `/` or `%`).
    Messages name the header or field, never a header's value (it may be a credential)."""

    reason = "UnsafeRequest"


class APIError(KubeError):
    def __init__(self, message: str, *, code: int, status: dict[str, Any] | None = None) -> None:
        super().__init__(message, reason=str((status or {}).get("reason") or type(self).reason))
        self.code = code
        self.status = status or {}


class APIClientError(APIError):
    pass


class APIUnauthorizedError(APIClientError):
    reason = "Unauthorized"


class APIForbiddenError(APIClientError):
    reason = "Forbidden"


class APINotFoundError(APIClientError):
    reason = "NotFound"


class APIConflictError(APIClientError):
    reason = "Conflict"


class APIGoneError(APIClientError):
    reason = "Gone"


class APIInvalidError(APIClientError):
    reason = "Invalid"


class APIServerError(APIError):
    reason = "ServerError"


_BY_CODE: dict[int, type[APIError]] = {
    401: APIUnauthorizedError,
    403: APIForbiddenError,
    404: APINotFoundError,
    409: APIConflictError,
    410: APIGoneError,
    422: APIInvalidError,
}


def from_status(code: int, status: dict[str, Any] | None, fallback: str) -> APIError:
    """The error for an HTTP failure `code` with the API server's `Status` body (if any)."""
    message = str((status or {}).get("message") or fallback)
    cls = _BY_CODE.get(code) or (APIServerError if code >= 500 or code == 429 else APIClientError)
    return cls(message, code=code, status=status)
