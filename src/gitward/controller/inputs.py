"""Reading what a render takes from the cluster (SPEC §15): the ConfigMaps and Secrets named by
`source.helm.valuesFrom`, `source.substitute.from` and `spec.decryption.secretRef`.

Called by `controller.desiring` on every full re-check, before the render; the result
(`rendering.Inputs`) goes to the render and the substitution. Every object is read from the
Application's own namespace (the references carry no namespace), and with the Application's identity:

- without a ServiceAccount (no `serviceAccountName`, no `--default-service-account`), with the
  controller's client;
- in tenant mode, impersonating that ServiceAccount on the controller's cluster, so the API
  server's RBAC decides: a tenant never gets a ConfigMap's or Secret's content into its objects
  unless its ServiceAccount could `get` it itself. A refusal is a clear condition, never a fallback
  to the controller's own rights. The repository credentials (`source.secretRef`) and trusted keys
  (`verify.secretRef`) are read through the same `client_for` (controller.desiring).

`gitward diff` reads them the same way with the user's kubeconfig, never impersonating.
A missing object refuses the render (RenderError condition, retried) unless its entry is `optional`.
Messages name the object and never carry its data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from gitward.controller.impersonation import Impersonation
from gitward.core import applications as apps
from gitward.core.errors import RenderError, TemporaryError
from gitward.core.manifests import Manifest
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.rendering import inputs, substitution

__all__ = ["InputError", "RenderInputs"]

MAX_KEY_BYTES = 1024 * 1024


class InputError(TemporaryError):
    """A ConfigMap or Secret a render needs cannot be read (yet): retried with the backoff."""

    condition = "RenderError"
    reason = "InputUnavailable"


class RenderInputs:
    def __init__(self, client: KubeClient, impersonation: Impersonation | None) -> None:
        self.client = client  # the controller's own cluster, where Applications live
        self.impersonation = impersonation  # None: always as `client` (the CLI, with the user's own rights)

    def client_for(self, spec: apps.ApplicationSpec, namespace: str) -> KubeClient:
        """The client that reads `spec`'s ConfigMaps and Secrets: its ServiceAccount's in tenant mode."""
        return self.client if self.impersonation is None else self.impersonation.client(spec, namespace, self.client)

    async def read(self, spec: apps.ApplicationSpec, namespace: str) -> inputs.Inputs:
        """Everything `spec` (an Application of `namespace`) takes from the cluster; empty when nothing."""
        source = spec.source
        refs = (source.helm.values_from if source.helm else ()), (source.substitute.from_ if source.substitute else ())
        decryption = spec.decryption.secret_ref if spec.decryption else None
        if spec.decryption is not None and decryption is None:
            raise RenderError("decryption.secretRef: required (the Secret holding *.agekey or *.asc keys)")
        if not any(refs) and decryption is None:
            return inputs.Inputs()
        client = self.client_for(spec, namespace)
        return inputs.Inputs(
            helm_values=tuple([doc for ref in refs[0] if (doc := await _values(client, namespace, ref))]),
            variables=await _variables(client, namespace, source.substitute),
            decryption_keys=await _keys(client, namespace, decryption) if decryption else (),
            decryption_secret=f"Secret/{namespace}/{decryption.name}" if decryption else "",
        )


async def _get(
    client: KubeClient, kind: str, name: str, namespace: str, why: str, *, optional: bool
) -> Manifest | None:
    try:
        return await client.get("v1", kind, name, namespace)
    except kube_errors.APINotFoundError:
        if optional:
            return None
        raise InputError(f"{kind}/{namespace}/{name}: not found ({why})") from None
    except kube_errors.KubeError as exc:
        raise InputError(f"{kind}/{namespace}/{name}: cannot be read ({why}): {exc.message}") from None


async def _values(client: KubeClient, namespace: str, ref: apps.ValuesReference) -> inputs.ValuesDocument | None:
    obj = await _get(client, ref.kind, ref.name, namespace, "source.helm.valuesFrom", optional=ref.optional)
    label = f"{ref.kind}/{namespace}/{ref.name}"
    data = (obj or {}).get("data") or {}
    if obj is None or ref.values_key not in data:
        if obj is None or ref.optional:
            return None
        raise RenderError(f"{label}: no key {ref.values_key!r} (source.helm.valuesFrom)")
    secret = ref.kind == "Secret"
    text = _decoded(label, ref.values_key, data[ref.values_key]) if secret else str(data[ref.values_key])
    return inputs.ValuesDocument(f"{label}[{ref.values_key}]", text, secret)


async def _variables(client: KubeClient, namespace: str, options: apps.Substitute | None) -> substitution.Variables:
    if options is None:
        return substitution.Variables()
    found = substitution.Variables()
    for ref in options.from_:
        obj = await _get(client, ref.kind, ref.name, namespace, "source.substitute.from", optional=ref.optional)
        if obj is not None:
            data = obj.get("data") or {}
            found = found.merged(substitution.from_data(ref.kind, f"{ref.kind}/{namespace}/{ref.name}", _mapping(data)))
    return found.merged(substitution.Variables(dict(options.vars)))


async def _keys(client: KubeClient, namespace: str, ref: apps.SecretRef) -> tuple[tuple[str, bytes], ...]:
    """The key entries (`*.agekey`, `*.asc`) of the decryption Secret, decoded."""
    obj = await _get(client, "Secret", ref.name, namespace, "decryption.secretRef", optional=False)
    label = f"Secret/{namespace}/{ref.name}"
    data = _mapping((obj or {}).get("data") or {})
    found = []
    for key in sorted(data):
        if key.endswith((".agekey", ".asc")):
            found.append((key, _decoded(label, key, data[key]).encode()))
    if not found:
        raise RenderError(f"{label}: no *.agekey or *.asc entry (decryption.secretRef)")
    return tuple(found)


def _decoded(label: str, key: str, raw: Any) -> str:
    try:
        value = base64.b64decode(str(raw), validate=True)
        if len(value) > MAX_KEY_BYTES:
            raise RenderError(f"{label}: key {key!r} is larger than {MAX_KEY_BYTES} bytes")
        return value.decode("utf-8")
    except (binascii.Error, ValueError):
        raise RenderError(f"{label}: key {key!r} is not base64-encoded UTF-8 text") from None


def _mapping(data: Any) -> Mapping[str, Any]:
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}
