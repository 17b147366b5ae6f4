"""`source.kustomize` options as an overlay (plain data) and rendered by the real kubectl: image
forms, affixes, labels, annotations, patches; bad values refused by the model's grammars; patches
parsed and bounded; a patch aimed outside the render changes nothing outside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from gitward import rendering
from gitward.core.applications import KustomizeSource, Source
from gitward.core.errors import RenderError
from gitward.rendering import DEFAULT_LIMITS, overlays

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1.25}, {name: side, image: "registry.local:5000/tools/side:1"}]}
"""
SHA = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("nginx=nginx:1.27", {"name": "nginx", "newTag": "1.27"}),
        ("nginx:1.27", {"name": "nginx", "newTag": "1.27"}),
        (f"nginx@{SHA}", {"name": "nginx", "digest": SHA}),
        ("nginx=mirror.io/nginx:1.27", {"name": "nginx", "newName": "mirror.io/nginx", "newTag": "1.27"}),
        ("registry.local:5000/tools/side:2", {"name": "registry.local:5000/tools/side", "newTag": "2"}),
        ("registry.local:5000/tools/side=other", {"name": "registry.local:5000/tools/side", "newName": "other"}),
    ],
)
def test_image_forms(entry: str, expected: dict[str, str]) -> None:
    KustomizeSource(images=(entry,))  # the grammar accepts it
    assert overlays.image(entry) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"namePrefix": "Prod_"},
        {"namePrefix": "-x"},
        {"nameSuffix": "x-"},
        {"namePrefix": "a" * 64},
        {"images": ["nginx;rm -rf /"]},
        {"images": ["-o=x"]},
        {"commonLabels": {"bad key!": "x"}},
        {"commonLabels": {"team": "has space"}},
        {"commonAnnotations": {"/x": "y"}},
        {"patches": [{"patch": "", "target": {"kind": "Deployment"}}]},
        {"patches": [{"patch": "x", "target": {"name": "web/../x"}}]},
    ],
)
def test_bad_values_are_refused_by_the_model(options: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        KustomizeSource.model_validate(options)


@pytest.mark.parametrize(
    ("patch", "target", "message"),
    [
        ("a: [1, 2", {"kind": "Deployment"}, r"patches\[0\]"),
        ("- op: replace\n  path: /spec/replicas\n  value: 2\n", None, "needs a target"),
        ("- op: exec\n  path: /x\n", {"kind": "Deployment"}, "JSON 6902"),
        ("just text", {"kind": "Deployment"}, "strategic-merge mapping"),
        ("a: 1\n---\nb: 2\n", {"kind": "Deployment"}, "one strategic-merge mapping"),
    ],
)
def test_patches_are_parsed(patch: str, target: dict[str, str] | None, message: str) -> None:
    options = KustomizeSource.model_validate({"patches": [{"patch": patch, "target": target}]})
    with pytest.raises(RenderError, match=message):
        overlays.kustomization("../repo", options, DEFAULT_LIMITS)


def test_values_cannot_add_fields_to_the_overlay() -> None:
    options = KustomizeSource.model_validate({"commonAnnotations": {"note": "x\nresources: [/etc]\n"}})
    doc = overlays.kustomization("../repo/app", options, DEFAULT_LIMITS)
    assert doc["resources"] == ["../repo/app"]
    assert doc["commonAnnotations"] == {"note": "x\nresources: [/etc]\n"}


def render(tmp_path: Path, path: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    source = Source.model_validate({"repoURL": "x", "path": path, "kustomize": options})
    return [r.manifest for r in rendering.render(tmp_path, source)]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "base").mkdir()
    (tmp_path / "plain").mkdir()
    (tmp_path / "base/kustomization.yaml").write_text("resources: [d.yaml]\n")
    (tmp_path / "base/d.yaml").write_text(DEPLOYMENT)
    (tmp_path / "plain/d.yaml").write_text(DEPLOYMENT)
    return tmp_path


@pytest.mark.parametrize("path", ["base", "plain"])
def test_options_applied_by_kustomize(checkout: Path, path: str) -> None:
    options = {
        "images": ["nginx=nginx:1.27", "registry.local:5000/tools/side:2"],
        "namePrefix": "prod-",
        "nameSuffix": "-v2",
        "commonLabels": {"team": "shop"},
        "commonAnnotations": {"gitward.dev/owner": "shop: team"},
        "patches": [{"target": {"kind": "Deployment"}, "patch": "- {op: replace, path: /spec/replicas, value: 3}"}],
    }
    [obj] = render(checkout, path, options)
    assert obj["metadata"]["name"] == "prod-web-v2"
    assert obj["metadata"]["labels"] == {"team": "shop"}
    assert obj["metadata"]["annotations"] == {"gitward.dev/owner": "shop: team"}
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "shop"}
    images = [c["image"] for c in obj["spec"]["template"]["spec"]["containers"]]
    assert images == ["nginx:1.27", "registry.local:5000/tools/side:2"]


def test_a_patch_aimed_outside_the_render(checkout: Path) -> None:
    # a target that matches nothing in the render: kustomize does nothing
    elsewhere = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-root-ca.crt, namespace: kube-system}\ndata: {x: y}\n"
    )
    options = {"patches": [{"target": {"kind": "ConfigMap", "namespace": "kube-system"}, "patch": elsewhere}]}
    assert [obj["metadata"]["name"] for obj in render(checkout, "base", options)] == ["web"]
    # a strategic merge patch without target naming an object that is not rendered: an error
    with pytest.raises(
        RenderError, match=r"^source.kustomize over base/kustomization.yaml: no resource matches strategic merge patch"
    ) as caught:
        render(checkout, "base", {"patches": [{"patch": elsewhere}]})
    assert "/tmp" not in caught.value.message
