"""Loading manifest files: multi-document YAML, Lists, JSON, empty documents and broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rendering_helpers import configmap, names, source, write

from gitward.core.errors import RenderError
from gitward.rendering import render


def test_multi_document_file_keeps_document_order(repo: Path) -> None:
    write(repo, {"all.yaml": configmap("b") + "---\n" + configmap("a") + "---\n" + configmap("c")})
    rendered = render(repo, source())
    assert names(rendered) == ["b", "a", "c"]
    assert {r.file for r in rendered} == {"all.yaml"}


def test_empty_documents_and_comment_only_files_are_skipped(repo: Path) -> None:
    write(repo, {"a.yaml": "---\n---\n" + configmap("a") + "---\n# only a comment\n---\n", "empty.yaml": ""})
    write(repo, {"comments.yml": "# nothing here\n"})
    assert names(render(repo, source())) == ["a"]


def test_kind_list_and_typed_lists_are_flattened(repo: Path) -> None:
    write(
        repo,
        {
            "list.yaml": """\
                apiVersion: v1
                kind: List
                items:
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
                - {apiVersion: v1, kind: Secret, metadata: {name: two}}
            """,
            "typed.yaml": """\
                apiVersion: v1
                kind: ConfigMapList
                items:
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: three}}
            """,
        },
    )
    rendered = render(repo, source())
    assert names(rendered) == ["one", "two", "three"]
    assert [r.file for r in rendered] == ["list.yaml", "list.yaml", "typed.yaml"]


def test_json_file_is_one_object(repo: Path) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"}, "data": {"k": "v"}}
    write(repo, {"cm.json": json.dumps(obj, indent=2)})
    rendered = render(repo, source())
    assert [r.manifest for r in rendered] == [obj]
    assert rendered[0].file == "cm.json"


def test_values_stay_plain_json_data(repo: Path) -> None:
    write(
        repo,
        {
            "cm.yaml": """\
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: dates
                  labels: &labels {app: web}
                  annotations: *labels
                data:
                  when: 2024-01-02
                  1: numeric key
            """
        },
    )
    manifest = render(repo, source())[0].manifest
    assert manifest["data"] == {"when": "2024-01-02", "1": "numeric key"}
    assert manifest["metadata"]["labels"] == manifest["metadata"]["annotations"]
    assert manifest["metadata"]["labels"] is not manifest["metadata"]["annotations"]
    json.dumps(manifest)  # nothing Python-only left


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"apps/web/deploy.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad: a: b\n"},
            "apps/web/deploy.yaml:5: mapping values are not allowed",
            id="broken-yaml-names-file-and-line",
        ),
        pytest.param(
            {"x.yaml": configmap("a") + "---\n- just\n- a list\n"},
            "x.yaml:7: document 2 is a list, not a Kubernetes object",
            id="non-mapping-document",
        ),
        pytest.param(
            {"x.yaml": "just a string\n"},
            "x.yaml:1: document 1 is a string",
            id="scalar-document",
        ),
        pytest.param(
            {"x.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"},
            "x.yaml:1: document 1: object has no apiVersion",
            id="missing-apiVersion",
        ),
        pytest.param(
            {"x.yaml": "apiVersion: v1\nmetadata: {name: a}\n"},
            "x.yaml:1: document 1: object has no kind",
            id="missing-kind",
        ),
        pytest.param(
            {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n"},
            "x.yaml:1: document 1: object has no metadata.name",
            id="missing-name",
        ),
        pytest.param(
            {"l.yaml": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap}\n"},
            "l.yaml:1: document 1 item 0: object has no metadata.name",
            id="list-item-without-name",
        ),
        pytest.param(
            {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nkind: Secret\n"},
            "x.yaml:4: duplicate key 'kind'",
            id="duplicate-key",
        ),
        pytest.param(
            {"x.json": '{"apiVersion": "v1",\n "kind": }'},
            "x.json:2: Expecting value",
            id="broken-json",
        ),
        pytest.param({"x.json": "[1, 2]"}, "x.json:1: document 1 is a list", id="json-array"),
        pytest.param({"x.yaml": b"kind: \xff\xfe\n"}, "x.yaml: not valid UTF-8", id="not-utf8"),
    ],
)
def test_bad_documents_are_refused_naming_the_file(repo: Path, files: dict[str, str | bytes], message: str) -> None:
    write(repo, files)
    with pytest.raises(RenderError) as caught:
        render(repo, source())
    assert str(caught.value).startswith(message)
    assert caught.value.reason == "RenderFailed"
