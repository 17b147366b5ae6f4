"""Connection settings: kubeconfig (file, context) or in-cluster service account, via lightkube.

Called by `gitward.kube.client.KubeClient.connect`. This and `client.py` are the only modules that
import the Kubernetes client library.
"""

from __future__ import annotations

import os
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import yaml
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import KubeConfig

from gitward.kube.errors import KubeError
from gitward.kube.transport import Http11Transport, Origin


@dataclass(frozen=True)
class Direct:
    """What `KubeClient.request` needs to send a request straight through the transport: the
    server, the static headers (Host, User-Agent, Authorization) and the request timeout."""

    transport: Http11Transport
    origin: Origin
    prefix: str  # the path of the server URL, "" for most clusters
    headers: tuple[tuple[bytes, bytes], ...]
    timeout: float


def load(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> Any:
    """The lightkube SingleConfig for `kubeconfig`/`context`, else KUBECONFIG, else in-cluster, else ~/.kube."""
    try:
        config = KubeConfig.from_file(Path(kubeconfig)) if kubeconfig else KubeConfig.from_env()
        single = config.get(context_name=context)
    except Exception as exc:  # lightkube raises ConfigError and OS errors alike
        raise KubeError(f"cannot load Kubernetes configuration: {_describe(exc)}") from exc
    if single is None:
        raise KubeError(f"kubeconfig has no context {context or '(current)'}")
    return single


def _describe(exc: Exception) -> str:
    """One line, and never the file's text: a YAML error's snippet could be a line holding a token."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"not valid YAML: {exc.problem or 'cannot parse'}{where}"
    if isinstance(exc, yaml.YAMLError):
        return "not valid YAML"
    if isinstance(exc, KeyError | TypeError | AttributeError):  # a field missing or of the wrong type
        return f"not a valid kubeconfig ({type(exc).__name__}: {exc})"
    return " ".join(str(exc).split())


def load_dict(conf: dict[str, Any], context: str | None = None) -> Any:
    """The lightkube SingleConfig of a kubeconfig given as data (a cluster Secret's `kubeconfig`).

    Relative file references cannot be resolved (there is no file): such kubeconfigs must embed
    their certificates (`certificate-authority-data`, ...) or use tokens.
    """
    try:
        single = KubeConfig.from_dict(conf).get(context_name=context)
    except Exception as exc:  # lightkube raises ConfigError, KeyError, TypeError for malformed data
        raise KubeError(f"invalid kubeconfig: {type(exc).__name__}") from exc
    if single is None:
        raise KubeError(f"kubeconfig has no context {context or '(current)'}")
    return single


def http_client(single: Any, *, timeout: float = 30.0, max_connections: int = 16) -> httpx2.AsyncClient:
    """An authenticated, keep-alive HTTP client for the cluster of `single`."""
    return connection(single, timeout=timeout, max_connections=max_connections)[0]


def connection(
    single: Any, *, timeout: float = 30.0, max_connections: int = 16
) -> tuple[httpx2.AsyncClient, Direct | None]:
    """An authenticated, keep-alive HTTP client for the cluster of `single`, and the direct path
    through its transport when the authentication is static (None otherwise).

    lightkube provides the TLS context (CA, client certificate) and the authentication flow
    (token, token file, exec plugin); the wire is gitward's lean HTTP/1.1 transport (see
    `gitward.kube.transport`: the generic one cost most of the controller's CPU per request).
    """
    params = client_adapter.ConnectionParams(timeout=httpx2.Timeout(timeout), trust_env=False)
    kwargs = params.httpx_params(single)
    if not isinstance(kwargs.get("verify"), ssl.SSLContext):  # not expected from lightkube
        kwargs["limits"] = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        return httpx2.AsyncClient(**kwargs), None
    transport = Http11Transport(kwargs.pop("verify"), max_connections=max_connections)
    kwargs["transport"] = transport
    client = httpx2.AsyncClient(**kwargs)
    return client, _direct(single, client, transport, timeout)


def _direct(single: Any, client: httpx2.AsyncClient, transport: Http11Transport, timeout: float) -> Direct | None:
    """The direct path, for a token or a client certificate (or no authentication); None for
    token files, exec plugins and passwords, whose flows (re-reading, refreshing) httpx2 runs."""
    user = single.user
    if user is None or user.token_file or user.exec or user.auth_provider or (user.username and user.password):
        return None
    url = urllib.parse.urlsplit(str(single.cluster.server))
    if url.scheme not in ("http", "https") or not url.hostname:
        return None
    port = url.port or (443 if url.scheme == "https" else 80)
    headers = [
        (b"Host", url.netloc.rpartition("@")[2].encode()),
        (b"User-Agent", client.headers["user-agent"].encode()),
    ]
    if user.token:
        headers.append((b"Authorization", f"Bearer {user.token}".encode()))
    return Direct(transport, (url.scheme, url.hostname, port), url.path.rstrip("/"), tuple(headers), timeout)


def default_namespace(single: Any) -> str:
    return str(single.namespace)
