"""Connection settings: kubeconfig (file, context) or in-cluster service account, via lightkube.

Called by `gitward.kube.client.KubeClient.connect`. This and `client.py` are the only modules that
import the Kubernetes client library.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx2
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import KubeConfig

from gitward.kube.errors import KubeError


def load(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> Any:
    """The lightkube SingleConfig for `kubeconfig`/`context`, else KUBECONFIG, else in-cluster, else ~/.kube."""
    try:
        config = KubeConfig.from_file(Path(kubeconfig)) if kubeconfig else KubeConfig.from_env()
        single = config.get(context_name=context)
    except Exception as exc:  # lightkube raises ConfigError and OS errors alike
        raise KubeError(f"cannot load Kubernetes configuration: {exc}") from exc
    if single is None:
        raise KubeError(f"kubeconfig has no context {context or '(current)'}")
    return single


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
    params = client_adapter.ConnectionParams(timeout=httpx2.Timeout(timeout), trust_env=False)
    kwargs = params.httpx_params(single)
    kwargs["limits"] = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx2.AsyncClient(**kwargs)


def default_namespace(single: Any) -> str:
    return str(single.namespace)
