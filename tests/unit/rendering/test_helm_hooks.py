"""Helm hooks → sync waves, as Argo CD maps them (pure table tests), and through a real render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rendering_helpers import source, write

from gitward.core.errors import RenderError
from gitward.rendering import render
from gitward.rendering.documents import Rendered
from gitward.rendering.helm_hooks import Phase, map_hooks, phase_of, weight_of


def obj(name: str, hook: str | None = None, weight: str | None = None, wave: str | None = None) -> Rendered:
    annotations: dict[str, Any] = {}
    if hook is not None:
        annotations["helm.sh/hook"] = hook
    if weight is not None:
        annotations["helm.sh/hook-weight"] = weight
    if wave is not None:
        annotations["gitward.dev/sync-wave"] = wave
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "annotations": annotations}}
    return Rendered(manifest, f"helm:templates/{name}.yaml")


def waves(rendered: list[Rendered]) -> dict[str, str | None]:
    return {
        r.manifest["metadata"]["name"]: (r.manifest["metadata"].get("annotations") or {}).get("gitward.dev/sync-wave")
        for r in rendered
    }


@pytest.mark.parametrize(
    ("hook", "phase"),
    [
        (None, Phase.MAIN),
        ("pre-install", Phase.PRE),
        ("pre-upgrade", Phase.PRE),
        ("pre-install,pre-upgrade", Phase.PRE),
        (" post-upgrade , post-install ", Phase.POST),
        ("crd-install", Phase.PRE),
        ("pre-install,post-install", Phase.PRE),
        ("test", Phase.SKIPPED),
        ("test-success", Phase.SKIPPED),
        ("pre-delete", Phase.SKIPPED),
        ("post-delete", Phase.SKIPPED),
        ("pre-rollback,post-rollback", Phase.SKIPPED),
        ("", Phase.SKIPPED),
    ],
)
def test_phase_of_hook_annotation(hook: str | None, phase: Phase) -> None:
    assert phase_of(obj("x", hook).manifest) is phase


@pytest.mark.parametrize(("weight", "expected"), [(None, 0), ("5", 5), ("-3", -3), (" 2 ", 2), ("x", 0), ("1.5", 0)])
def test_weight_is_read_like_helm(weight: str | None, expected: int) -> None:
    assert weight_of(obj("x", "pre-install", weight).manifest) == expected


def test_pre_hooks_before_main_objects_post_hooks_after_weights_ordering_each_phase() -> None:
    rendered = [
        obj("main", wave=None),
        obj("early-main", wave="-2"),
        obj("late-main", wave="3"),
        obj("migrate", "pre-install,pre-upgrade", "5"),
        obj("schema", "pre-install", "-5"),
        obj("notify", "post-install", "10"),
        obj("smoke", "post-upgrade", "1"),
        obj("test", "test"),
    ]
    assert waves(map_hooks(rendered)) == {
        "main": None,
        "early-main": "-2",
        "late-main": "3",
        "schema": "-13",  # lowest main wave -2, minus one, minus the weight gap (5 - -5)
        "migrate": "-3",
        "smoke": "4",
        "notify": "13",
    }


def test_a_hook_wave_replaces_the_object_wave_and_leaves_the_input_alone() -> None:
    hook = obj("job", "pre-install", wave="7")
    assert waves(map_hooks([hook])) == {"job": "-1"}
    assert hook.manifest["metadata"]["annotations"]["gitward.dev/sync-wave"] == "7"


def test_absurd_weights_are_refused() -> None:
    with pytest.raises(RenderError, match=r"^helm:templates/b.yaml: ConfigMap/b: hook weights lead to sync wave"):
        map_hooks([obj("a", "pre-install", "999999999999"), obj("b", "pre-install", "-999999999999")])


def test_hooks_in_a_rendered_chart(repo: Path) -> None:
    job = """\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {{ .Release.Name }}-{{ .Values.job }}
          annotations:
            "helm.sh/hook": {{ .Values.hook }}
            "helm.sh/hook-weight": "{{ .Values.weight }}"
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: job, image: busybox}]
        """
    write(
        repo,
        {
            "c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "c/values.yaml": "job: migrate\nhook: pre-install,pre-upgrade\nweight: -1\n",
            "c/templates/job.yaml": job,
            "c/templates/test.yaml": job.replace("{{ .Values.job }}", "test").replace("{{ .Values.hook }}", "test"),
            "c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
        },
    )
    assert waves(render(repo, source("c"))) == {"cm": None, "release-name-migrate": "-1"}
