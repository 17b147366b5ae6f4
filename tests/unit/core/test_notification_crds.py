"""The Provider and Alert CRDs carry the same grammars as the models (gitward.core.notifications), and
`gitward install` picks their files up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitward.cli import install
from gitward.core.identifiers import GRAMMARS
from gitward.core.notifications import PROVIDER_TYPES

CRDS = Path(__file__).resolve().parents[3] / "deploy" / "crds"

FIELDS = [
    ("providers", ["address"], "url"),
    ("providers", ["secretRef", "name"], "subdomain"),
    ("alerts", ["providerRef", "name"], "subdomain"),
    ("alerts", ["eventSources", "[]", "name"], "glob"),
    ("alerts", ["eventSources", "[]", "namespace"], "glob"),
    ("alerts", ["inclusionList", "[]"], "glob"),
    ("alerts", ["exclusionList", "[]"], "glob"),
]


def _spec(crd: str) -> dict[str, Any]:
    doc = yaml.safe_load((CRDS / f"{crd}.gitward.dev.yaml").read_text())
    return dict(doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])


@pytest.mark.parametrize(("crd", "path", "grammar"), FIELDS, ids=lambda v: ".".join(v) if isinstance(v, list) else v)
def test_notification_crds_carry_the_models_grammar(crd: str, path: list[str], grammar: str) -> None:
    node = _spec(crd)
    for part in path:
        node = node["items"] if part == "[]" else node["properties"][part]
    assert node["pattern"] == GRAMMARS[grammar].pattern
    assert node["maxLength"] == GRAMMARS[grammar].max_length


def test_provider_types_and_alert_enums_match_the_models() -> None:
    assert tuple(_spec("providers")["properties"]["type"]["enum"]) == PROVIDER_TYPES
    alert = _spec("alerts")["properties"]
    assert alert["eventSeverity"]["enum"] == ["info", "error"]
    assert alert["eventSources"]["items"]["properties"]["kind"]["enum"] == ["Application", "Rollout", "ApplicationSet"]


def test_optional_strings_are_nullable() -> None:
    """The 1.20 API server stores "" as null: optional strings must accept it."""
    provider = _spec("providers")["properties"]
    for name in ("address", "channel", "username"):
        assert provider[name]["nullable"] is True
    assert _spec("alerts")["properties"]["summary"]["nullable"] is True


def test_install_applies_the_provider_and_alert_crds() -> None:
    names = {o["metadata"]["name"] for o in install.manifests("gitward", crds_only=True)}
    assert {"providers.gitward.dev", "alerts.gitward.dev"} <= names


def test_the_controller_role_reads_providers_and_alerts_and_writes_their_status() -> None:
    role = next(
        o
        for o in install.manifests("gitward", crds_only=False)
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "gitward-controller"
    )
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    for verb in ("get", "list", "watch"):
        assert ("providers", verb) in granted and ("alerts", verb) in granted
    assert ("providers/status", "patch") in granted and ("alerts/status", "patch") in granted
