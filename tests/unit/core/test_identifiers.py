"""Identifier grammars: every spec field that reaches a header, URL, argument list or path is held to
one, in the pydantic model and — with the same pattern — in the CRD schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gitward.core import applications as apps
from gitward.core.identifiers import GRAMMARS

CRDS = Path(__file__).resolve().parents[3] / "deploy" / "crds"

ROLLING_STEP = ["strategy", "rollingSync", "steps", "[]", "matchExpressions", "[]"]
# (CRD file, path of property names inside spec, grammar)
CRD_FIELDS = [
    ("applications", ["project"], "label"),
    ("applications", ["source", "repoURL"], "url"),
    ("applications", ["source", "targetRevision"], "revision"),
    ("applications", ["source", "path"], "path"),
    ("applications", ["source", "chart"], "chart"),
    ("applications", ["source", "directory", "include"], "glob"),
    ("applications", ["source", "directory", "exclude"], "glob"),
    ("applications", ["source", "helm", "valueFiles", "[]"], "value-file"),
    ("applications", ["source", "helm", "releaseName"], "release-name"),
    ("applications", ["source", "secretRef", "name"], "subdomain"),
    ("applications", ["source", "verify", "secretRef", "name"], "subdomain"),
    ("applications", ["destination", "namespace"], "optional-label"),
    ("applications", ["destination", "cluster"], "subdomain"),
    ("applications", ["serviceAccountName"], "optional-subdomain"),
    ("applications", ["syncPolicy", "syncOptions", "[]"], "sync-option"),
    ("applications", ["ignoreDifferences", "[]", "group"], "group"),
    ("applications", ["ignoreDifferences", "[]", "kind"], "kind"),
    ("applications", ["ignoreDifferences", "[]", "name"], "optional-subdomain"),
    ("applications", ["ignoreDifferences", "[]", "namespace"], "optional-label"),
    ("applications", ["ignoreDifferences", "[]", "jsonPointers", "[]"], "json-pointer"),
    ("applications", ["ignoreDifferences", "[]", "managedFieldsManagers", "[]"], "field-manager"),
    ("applications", ["dependsOn", "[]", "name"], "subdomain"),
    ("applications", ["dependsOn", "[]", "namespace"], "optional-label"),
    ("applicationsets", ["strategy", "rollingSync", "steps", "[]", "matchExpressions", "[]", "key"], "label-key"),
    (
        "applicationsets",
        ["strategy", "rollingSync", "steps", "[]", "matchExpressions", "[]", "values", "[]"],
        "label-value",
    ),
    ("applications", ["source", "kustomize", "images", "[]"], "image"),
    ("applications", ["source", "kustomize", "namePrefix"], "name-prefix"),
    ("applications", ["source", "kustomize", "nameSuffix"], "name-suffix"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "group"], "group"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "version"], "patch-version"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "kind"], "kind"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "name"], "patch-name"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "namespace"], "optional-subdomain"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "labelSelector"], "selector"),
    ("applications", ["source", "kustomize", "patches", "[]", "target", "annotationSelector"], "selector"),
    ("applications", ["source", "helm", "valuesFrom", "[]", "name"], "subdomain"),
    ("applications", ["source", "helm", "valuesFrom", "[]", "valuesKey"], "config-key"),
    ("applications", ["source", "substitute", "from", "[]", "name"], "subdomain"),
    ("applications", ["decryption", "secretRef", "name"], "subdomain"),
    ("projects", ["sourceRepos", "[]"], "glob"),
    ("projects", ["destinations", "[]", "cluster"], "glob"),
    ("projects", ["destinations", "[]", "namespace"], "glob"),
    ("projects", ["clusterResourceAllowlist", "[]", "group"], "group"),
    ("projects", ["clusterResourceAllowlist", "[]", "kind"], "kind"),
    ("projects", ["namespaceResourceDenylist", "[]", "group"], "group"),
    ("projects", ["namespaceResourceDenylist", "[]", "kind"], "kind"),
    ("imagerepositories", ["image"], "url"),
    ("imagerepositories", ["interval"], "duration"),
    ("imagerepositories", ["secretRef", "name"], "subdomain"),
    ("imagepolicies", ["imageRepositoryRef", "name"], "subdomain"),
    ("imageupdateautomations", ["interval"], "duration"),
    ("imageupdateautomations", ["sourceRef", "name"], "subdomain"),
    ("imageupdateautomations", ["git", "secretRef", "name"], "subdomain"),
    ("imageupdateautomations", ["git", "checkout", "branch"], "branch"),
    ("imageupdateautomations", ["git", "push", "branch"], "branch"),
    ("imageupdateautomations", ["git", "commit", "author", "name"], "author-name"),
    ("imageupdateautomations", ["git", "commit", "author", "email"], "email"),
    ("imageupdateautomations", ["git", "commit", "signingKey", "secretRef", "name"], "subdomain"),
    ("imageupdateautomations", ["update", "path"], "path"),
    ("rollouts", ["analysis", "templates", "[]", "name"], "subdomain"),
    ("rollouts", ["strategy", "canary", "trafficRouting", "gatewayAPI", "httpRoute"], "subdomain"),
    ("analysistemplates", ["metrics", "[]", "name"], "label"),
    ("analysistemplates", ["metrics", "[]", "provider", "prometheus", "address"], "url"),
    ("analysistemplates", ["metrics", "[]", "provider", "web", "url"], "url"),
]


def _crd_property(crd: str, path: list[str]) -> dict[str, Any]:
    doc = yaml.safe_load((CRDS / f"{crd}.gitward.dev.yaml").read_text())
    node = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for part in path:
        node = node["items"] if part == "[]" else node["properties"][part]
    return dict(node)


@pytest.mark.parametrize(
    ("crd", "path", "grammar"), CRD_FIELDS, ids=lambda v: ".".join(v) if isinstance(v, list) else v
)
def test_crd_schema_carries_the_models_grammar(crd: str, path: list[str], grammar: str) -> None:
    prop = _crd_property(crd, path)
    assert prop["pattern"] == GRAMMARS[grammar].pattern
    assert prop["maxLength"] == GRAMMARS[grammar].max_length


def test_every_grammar_is_re2_compatible() -> None:
    """The API server compiles CRD patterns with Go's RE2: no look-around or back-references."""
    for grammar in GRAMMARS.values():
        assert not re.search(r"\(\?[=!<]|\\[1-9]", grammar.pattern), grammar.pattern


INJECTION = "limited\r\nImpersonate-Group: system:masters"
# (field as in the spec, where the value goes) → hostile values that must be refused
HOSTILE: dict[tuple[str, ...], list[Any]] = {
    ("serviceAccountName",): [INJECTION, "a\x00b", "a/b", "..", "-x", "x" * 254, "Limited"],
    ("destination", "namespace"): [INJECTION, "a\x00b", "a/b", "..", "-x", "x" * 64, "kube system"],
    ("destination", "cluster"): [INJECTION, "a\x00b", "a/b", "..", "-x", "x" * 254, ""],
    ("project",): [INJECTION, "a\x00b", "a/b", "..", "-x", "x" * 64],
    ("source", "path"): [INJECTION, "a\x00b", "/etc", "..", "../x", "a/../../b", "-x", "x" * 1025],
    ("source", "targetRevision"): [
        INJECTION,
        "a\x00b",
        "--upload-pack=touch /tmp/pwned",
        "-x",
        "..",
        "../x",
        "/etc",
        "@{-1}",
        "x" * 256,
        " main",
        "main\t",
        "m\u00e4in",
    ],
    ("source", "chart"): [INJECTION, "a\x00b", "a/b", "..", "-x", "x" * 251],
    ("source", "repoURL"): [INJECTION, "a\x00b", "-oProxyCommand=touch /tmp/x", "ext::sh -c id", "", "x" * 2049],
    ("source", "secretRef", "name"): [INJECTION, "a\x00b", "a/b", "..", "-x", "x" * 254],
    ("source", "verify", "secretRef", "name"): [INJECTION, "a/b", ".."],
    ("source", "helm", "releaseName"): [INJECTION, "a/b", "-x", "x" * 54],
}
GOOD: dict[tuple[str, ...], list[Any]] = {
    ("serviceAccountName",): ["", "limited", "deployer.v2"],
    ("destination", "namespace"): ["", "guestbook", "team-a1"],
    ("destination", "cluster"): ["in-cluster", "prod-eu.west"],
    ("project",): ["default", "team-a"],
    ("source", "path"): [".", "./apps", "apps/guestbook", "apps/guestbook/", ".config/x", "env/prod+eu"],
    ("source", "targetRevision"): [
        "HEAD",
        "main",
        "v1.2.3",
        "refs/tags/v1.0",
        "feature/x-y",
        "0" * 40,
        "^1.2",
        ">=1.0.0 <2.0.0",
        "1.2.x",
        "*",
        "~1.2",
        "<1.1",
        ">=1 <2 || 3.x",
        "!=1.0",
    ],
    ("source", "chart"): ["", "nginx", "my_chart-1.2"],
    ("source", "repoURL"): ["https://git.example.com/org/config.git", "git@github.com:org/repo.git"],
    ("source", "secretRef", "name"): ["repo-creds"],
    ("source", "helm", "releaseName"): ["", "web", "web.v2"],
}


def _spec_with(field: tuple[str, ...], value: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": {"repoURL": "https://git.example.com/a.git"}}
    if field[:2] == ("source", "verify"):
        spec["source"]["verify"] = {"mode": "head"}
    node = spec
    for part in field[:-1]:
        node = node.setdefault(part, {})
    node[field[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, values in HOSTILE.items() for v in values], ids=lambda v: repr(v)[:30]
)
def test_hostile_identifier_is_refused_naming_the_field(field: tuple[str, ...], value: Any) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        apps.ApplicationSpec.model_validate(_spec_with(field, value))
    assert tuple(str(p) for p in info.value.errors()[0]["loc"]) == field


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, values in GOOD.items() for v in values], ids=lambda v: repr(v)[:30]
)
def test_ordinary_identifier_is_accepted(field: tuple[str, ...], value: Any) -> None:
    apps.ApplicationSpec.model_validate(_spec_with(field, value))


def test_null_fields_take_their_defaults() -> None:
    spec = apps.ApplicationSpec.model_validate(
        {"source": {"repoURL": "https://x/y.git", "chart": None, "path": None}, "serviceAccountName": None}
    )
    assert (spec.source.chart, spec.source.path, spec.service_account_name) == ("", ".", "")


def test_value_files_and_sync_options_are_held_to_grammars() -> None:
    for bad in ("/etc/passwd", "-f", "https://example.com/values.yaml", "a\nb"):
        with pytest.raises(pydantic.ValidationError):
            apps.ApplicationSpec.model_validate(_spec_with(("source", "helm", "valueFiles"), [bad]))
    # relative to the chart: climbing is allowed here, the renderer confines it to the checkout
    ok = apps.ApplicationSpec.model_validate(_spec_with(("source", "helm", "valueFiles"), ["../env/prod.yaml"]))
    assert ok.source.helm is not None and ok.source.helm.value_files == ("../env/prod.yaml",)
    with pytest.raises(pydantic.ValidationError):
        apps.ApplicationSpec.model_validate(_spec_with(("syncPolicy", "syncOptions"), ["CreateNamespace=true\r\nX"]))
    ok = apps.ApplicationSpec.model_validate(_spec_with(("syncPolicy", "syncOptions"), ["CreateNamespace=true"]))
    assert ok.sync_policy.option("CreateNamespace") == "true"


@given(st.text(min_size=1), st.sampled_from(sorted(GRAMMARS)), st.sampled_from(["\r", "\n", "\x00", "\x7f", "\t"]))
def test_no_grammar_admits_a_control_character(text: str, grammar: str, control: str) -> None:
    value = text[: len(text) // 2] + control + text[len(text) // 2 :]
    assert GRAMMARS[grammar].problem(value) is not None


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_a_path_that_passes_never_climbs_or_is_absolute(text: str) -> None:
    if GRAMMARS["path"].problem(text) is None:
        assert not text.startswith(("/", "-"))
        assert ".." not in text.split("/")
