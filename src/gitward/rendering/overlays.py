"""The overlay kustomization that applies `source.kustomize` options (SPEC §15, Argo CD's
`source.kustomize`): images, namePrefix, nameSuffix, commonLabels, commonAnnotations, patches.

Called by `kustomize.render`, which writes the result next to (never inside) the private copy of
the checkout and runs kustomize on it, so kustomize itself applies every option to the objects of
the render and to nothing else. Pure: builds a plain mapping, dumped with `yaml.safe_dump`, so no
value can add a field or a reference to the kustomization. Every value has already been held to its
grammar by the model (`core.applications`); patches are parsed here, bounded, and must be a
strategic-merge mapping or a JSON 6902 list of operations — written inline, never as a file path.
"""

from __future__ import annotations

from typing import Any

import yaml

from gitward.core.applications import KustomizePatch, KustomizeSource, PatchTarget
from gitward.core.errors import RenderError
from gitward.rendering import documents, scanning
from gitward.rendering.limits import Limits

__all__ = ["image", "kustomization"]

JSON6902_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def kustomization(resource: str, options: KustomizeSource, limits: Limits) -> dict[str, Any]:
    """The overlay: `resource` (a directory or file, relative to the overlay) with `options` applied."""
    doc: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [resource],
    }
    if options.images:
        doc["images"] = [image(entry) for entry in options.images]
    if options.name_prefix:
        doc["namePrefix"] = options.name_prefix
    if options.name_suffix:
        doc["nameSuffix"] = options.name_suffix
    if options.common_labels:
        # kustomize's `commonLabels` (deprecated) as its successor: selectors and templates included
        doc["labels"] = [{"pairs": dict(options.common_labels), "includeSelectors": True, "includeTemplates": True}]
    if options.common_annotations:
        doc["commonAnnotations"] = dict(options.common_annotations)
    if options.patches:
        doc["patches"] = [_patch(index, patch, limits) for index, patch in enumerate(options.patches)]
    return doc


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=4096)


def image(entry: str) -> dict[str, str]:
    """kustomize's image entry for `name=newName:tag`, `name:tag`, `name@sha256:…` (Argo CD's forms)."""
    name, _, replacement = entry.partition("=")
    if replacement:
        found: dict[str, str] = {"name": _split(name)[0]}
        new_name, tag, digest = _parts(replacement)
        if new_name != found["name"]:
            found["newName"] = new_name
    else:
        new_name, tag, digest = _parts(name)
        found = {"name": new_name}
    if tag:
        found["newTag"] = tag
    if digest:
        found["digest"] = digest
    return found


def _parts(reference: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference."""
    reference, _, digest = reference.partition("@")
    name, tag = _split(reference)
    return name, tag, digest


def _split(reference: str) -> tuple[str, str]:
    """(name, tag): the tag is after the last ':' that comes after the last '/' (a registry port is not one)."""
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, ""


def _patch(index: int, patch: KustomizePatch, limits: Limits) -> dict[str, Any]:
    label = f"source.kustomize.patches[{index}]"
    parsed = documents.parse_yaml(patch.patch, label, limits, scanning.Budget(limits.max_file_bytes))
    bodies = [doc for _, doc in parsed if doc is not None]
    if len(bodies) != 1:
        raise RenderError(f"{label}: a patch is one strategic-merge mapping or one JSON 6902 list")
    body = bodies[0]
    if isinstance(body, list):
        for op in body:
            if not (isinstance(op, dict) and op.get("op") in JSON6902_OPS and isinstance(op.get("path"), str)):
                raise RenderError(f"{label}: a JSON 6902 patch is a list of {{op, path, ...}} operations")
        if patch.target is None:
            raise RenderError(f"{label}: a JSON 6902 patch needs a target")
    elif not isinstance(body, dict):
        raise RenderError(f"{label}: a patch is one strategic-merge mapping or one JSON 6902 list")
    out: dict[str, Any] = {"patch": patch.patch}
    if patch.target is not None:
        out["target"] = _target(patch.target)
    return out


def _target(target: PatchTarget) -> dict[str, str]:
    fields = {
        "group": target.group,
        "version": target.version,
        "kind": target.kind or "",
        "name": target.name,
        "namespace": target.namespace,
        "labelSelector": target.label_selector,
        "annotationSelector": target.annotation_selector,
    }
    return {key: value for key, value in fields.items() if value}
