"""The Helm engine on charts written here: templates, helpers, values, dependencies, release, capabilities.

Every render runs Helm's real engine (helm-python-sdk) in its worker process, offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rendering_helpers import source, write

from gitward.core.errors import RenderError
from gitward.rendering import Capabilities, Target, render

CHART = {
    "web/Chart.yaml": """\
        apiVersion: v2
        name: web
        version: 1.0.0
        appVersion: "2.1"
        dependencies:
          - name: cache
            version: 0.1.0
            condition: cache.enabled
        """,
    "web/values.yaml": """\
        replicas: 1
        image: {repository: nginx, tag: "1.27"}
        greeting: hello
        cache: {enabled: true, size: small}
        """,
    "web/templates/_helpers.tpl": """\
        {{- define "web.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
        {{- define "web.labels" -}}
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
        {{- end -}}
        """,
    "web/templates/deployment.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ include "web.fullname" . }}
          labels: {{- include "web.labels" . | nindent 4 }}
        spec:
          replicas: {{ .Values.replicas }}
          selector:
            matchLabels: {{- include "web.labels" . | nindent 6 }}
          template:
            metadata:
              labels: {{- include "web.labels" . | nindent 8 }}
            spec:
              containers:
                - name: web
                  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        """,
    "web/templates/config.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ include "web.fullname" . }}-config
          namespace: {{ .Release.Namespace }}
        data:
          greeting: {{ .Values.greeting | quote }}
          kube: {{ .Capabilities.KubeVersion.Version | quote }}
          monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
          servicemonitor: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" | quote }}
        """,
    "web/templates/NOTES.txt": "Thanks for installing {{ .Chart.Name }}.\n",
    "web/charts/cache/Chart.yaml": "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
    "web/charts/cache/values.yaml": "size: large\n",
    "web/charts/cache/templates/cm.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-cache
        data:
          size: {{ .Values.size }}
        """,
}

TARGET = Target(app_name="shop", namespace="prod", capabilities=Capabilities("v1.20.2", ("monitoring.coreos.com/v1",)))


def objects(rendered: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.manifest["kind"], r.manifest["metadata"]["name"]): r.manifest for r in rendered}


@pytest.fixture
def chart_repo(repo: Path) -> Path:
    write(repo, CHART)
    return repo


def test_chart_renders_templates_helpers_values_and_dependency(chart_repo: Path) -> None:
    rendered = render(chart_repo, source("web", helm={}), target=TARGET)
    found = objects(rendered)
    assert set(found) == {("Deployment", "shop-web"), ("ConfigMap", "shop-web-config"), ("ConfigMap", "shop-cache")}
    deployment = found[("Deployment", "shop-web")]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployment["metadata"]["labels"] == {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "shop"}
    assert found[("ConfigMap", "shop-cache")]["data"] == {"size": "small"}  # parent values override the subchart's
    files = {r.file for r in rendered}
    assert "helm:web/templates/deployment.yaml" in files
    assert "helm:web/charts/cache/templates/cm.yaml" in files


def test_release_namespace_and_capabilities_come_from_the_target(chart_repo: Path) -> None:
    config = objects(render(chart_repo, source("web", helm={}), target=TARGET))[("ConfigMap", "shop-web-config")]
    assert config["metadata"]["namespace"] == "prod"
    assert config["data"]["kube"] == "v1.20.2"
    assert config["data"]["monitoring"] == "true"
    assert config["data"]["servicemonitor"] == "false"


def test_without_target_helm_defaults_apply(chart_repo: Path) -> None:
    config = objects(render(chart_repo, source("web")))[("ConfigMap", "release-name-web-config")]
    assert config["metadata"]["namespace"] == "default"
    assert config["data"]["monitoring"] == "false"


def test_release_name_overrides_the_application_name(chart_repo: Path) -> None:
    found = objects(render(chart_repo, source("web", helm={"releaseName": "store"}), target=TARGET))
    assert ("Deployment", "store-web") in found


def test_chart_yaml_is_detected_without_helm_options(chart_repo: Path) -> None:
    assert ("Deployment", "shop-web") in objects(render(chart_repo, source("web"), target=TARGET))


def test_value_files_then_inline_values_in_order(chart_repo: Path) -> None:
    write(
        chart_repo,
        {
            "web/values-prod.yaml": "replicas: 3\nimage: {tag: '1.28'}\ngreeting: prod\n",
            "env/override.yaml": "greeting: override\ncache: {enabled: false}\n",
        },
    )
    helm = {"valueFiles": ["values-prod.yaml", "../env/override.yaml"], "values": {"replicas": 5}}
    found = objects(render(chart_repo, source("web", helm=helm), target=TARGET))
    deployment = found[("Deployment", "shop-web")]
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"  # maps merge
    assert found[("ConfigMap", "shop-web-config")]["data"]["greeting"] == "override"
    assert ("ConfigMap", "shop-cache") not in found  # the dependency's condition turned it off


def test_extra_value_files_from_the_command_line(chart_repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "local.yaml"
    extra.write_text("replicas: 7\n")
    found = objects(render(chart_repo, source("web"), target=TARGET, helm_value_files=[extra]))
    assert found[("Deployment", "shop-web")]["spec"]["replicas"] == 7


def test_crds_come_first_and_notes_are_left_out(chart_repo: Path) -> None:
    crd = """\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          names: {kind: Widget, plural: widgets}
          scope: Namespaced
          versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
        """
    write(chart_repo, {"web/crds/widgets.yaml": crd})
    rendered = render(chart_repo, source("web"), target=TARGET)
    assert rendered[0].manifest["kind"] == "CustomResourceDefinition"
    assert rendered[0].file == "web/crds/widgets.yaml"
    assert not [r for r in rendered if "NOTES" in r.file]


def test_lookup_returns_nothing(chart_repo: Path) -> None:
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\ndata:\n"
    template += '  found: {{ lookup "v1" "Secret" "kube-system" "x" | len | quote }}\n'
    write(chart_repo, {"web/templates/lookup.yaml": template})
    assert objects(render(chart_repo, source("web"), target=TARGET))[("ConfigMap", "probe")]["data"] == {"found": "0"}


def test_a_missing_dependency_is_refused_not_downloaded(chart_repo: Path) -> None:
    chart = (
        CHART["web/Chart.yaml"]
        + "  - name: postgresql\n    version: 12.0.0\n    repository: https://charts.example.com\n"
    )
    write(chart_repo, {"web/Chart.yaml": chart})
    with pytest.raises(RenderError, match=r"^web: Chart.yaml: dependency 'postgresql' is not in charts/"):
        render(chart_repo, source("web"), target=TARGET)


def test_template_errors_name_the_chart(chart_repo: Path) -> None:
    write(chart_repo, {"web/templates/broken.yaml": "x: {{ .Values.nope.deeper }}\n"})
    with pytest.raises(RenderError, match=r"^web: .*broken.yaml.*nil pointer"):
        render(chart_repo, source("web"), target=TARGET)


def test_rendered_yaml_errors_name_the_template(chart_repo: Path) -> None:
    write(chart_repo, {"web/templates/bad.yaml": "apiVersion: v1\nkind: ConfigMap\n  broken: [\n"})
    with pytest.raises(RenderError, match=r"^helm:web/templates/bad.yaml:"):
        render(chart_repo, source("web"), target=TARGET)


def test_not_a_chart_with_helm_options(repo: Path) -> None:
    write(repo, {"plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    with pytest.raises(RenderError, match=r"^plain: no Chart.yaml here"):
        render(repo, source("plain", helm={}))
