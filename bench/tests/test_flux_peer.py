"""bench.peers.flux reads Flux's status (Ready, the applied commit, the handled reconcile request,
a status older than the spec) as the bench judges it; the Flux column is filled into the rows of the
scenarios it measured and printed beside the baselines; bench/flux/go.mod pins both controllers at
one release.

The bench's own unit tests (tests/ and bench/ stay independent, so they live here): run them with
`.venv/bin/pytest bench/tests`. They need no cluster, no Go and no Flux build."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report
from bench.flux import build
from bench.peers import flux
from bench.peers.flux_scenarios import Result, attach
from gitward.devcluster import gobuild, releases

SHA = "3f1c2b9d0a8e7f6c5b4a39281706f5e4d3c2b1a0"


def _kustomization(ready: str = "True", revision: str = f"main@sha1:{SHA}", handled: str = "", generation: int = 1,
                   observed: int = 1) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {
        "observedGeneration": observed,
        "lastAppliedRevision": revision,
        "conditions": [
            {"type": "Reconciling", "status": "False"},
            {
                "type": "Ready",
                "status": ready,
                "reason": "ReconciliationSucceeded",
                "message": f"Applied revision: {revision}",
            },
        ],
    }
    if handled:
        status["lastHandledReconcileAt"] = handled
    return {"metadata": {"name": "single-0", "generation": generation}, "status": status}


def test_state_reads_ready_revision_and_the_handled_request() -> None:
    s = flux.state(_kustomization(handled="bench-1"))
    assert (s.ready, s.reason, s.sha, s.handled, s.stale) == (True, "ReconciliationSucceeded", SHA, "bench-1", False)


def test_state_of_a_git_repository_takes_the_artifact_revision() -> None:
    status = {"observedGeneration": 2, "artifact": {"revision": f"main@sha1:{SHA}"},
              "conditions": [{"type": "Ready", "status": "True"}]}  # fmt: skip
    repo = {"metadata": {"generation": 2}, "status": status}
    assert flux.state(repo).sha == SHA
    assert flux.ready_at(SHA)(repo)


def test_older_revision_formats_give_the_commit() -> None:
    assert flux.State(True, revision=f"main/{SHA}").sha == SHA
    assert flux.State(True, revision=SHA).sha == SHA


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_kustomization(), True),
        (_kustomization(ready="False"), False),
        (_kustomization(ready="Unknown"), False),
        (_kustomization(revision="main@sha1:0000000000000000000000000000000000000000"), False),
        (_kustomization(generation=2, observed=1), False),  # the status predates the spec
        ({"metadata": {"name": "new"}}, False),  # no status yet
    ],
)
def test_ready_at(obj: dict[str, Any], expected: bool) -> None:
    assert flux.ready_at(SHA)(obj) is expected


def test_handled_needs_the_same_request_and_ready_again() -> None:
    assert flux.handled("bench-2", SHA)(_kustomization(handled="bench-2"))
    assert not flux.handled("bench-2", SHA)(_kustomization(handled="bench-1"))
    assert not flux.handled("bench-2", SHA)(_kustomization(handled="bench-2", ready="False"))
    assert not flux.handled("bench-2", "f" * 40)(_kustomization(handled="bench-2"))
    assert flux.handled("bench-2")(_kustomization(handled="bench-2"))


def test_manifests_point_the_kustomization_at_its_source_and_target() -> None:
    k = flux.kustomization("app-0001", "bench-flux", "fleet", "apps/app-0001", "flux-fleet", interval="3m")
    assert k["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "fleet"}
    assert (k["spec"]["path"], k["spec"]["targetNamespace"], k["spec"]["interval"]) == (
        "./apps/app-0001",
        "flux-fleet",
        "3m",
    )
    g = flux.git_repository("fleet", "bench-flux", "http://127.0.0.1:1/fleet.git")
    assert g["spec"]["ref"] == {"branch": "main"}
    assert flux.collection("Kustomization", "ns") == "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/ns/kustomizations"
    with pytest.raises(ValueError, match="HelmRelease"):
        flux.collection("HelmRelease", "ns")


def test_attach_fills_the_flux_cell_note_and_data_of_measured_rows_only() -> None:
    rows = [
        report.Row(1, "cold sync", "1.2 s", "floor 1.0 s", "1.2×", "t", True),
        report.Row(4, "push", "0.3 s", "—", "—", "t", True),
    ]
    attach(rows, {1: Result("2.5 s", "median of 1", {"flux_s": [2.5]}), 6: Result("error", "boom")})
    assert rows[0].peers == {"flux": "2.5 s"}
    assert rows[0].notes == ["flux: median of 1"]
    assert rows[0].data["flux"] == {"flux_s": [2.5]}
    assert rows[1].peers == {}
    assert rows[1].notes == []
    table = report.table(rows)
    assert "| flux" in table.splitlines()[0]
    assert "2.5 s" in table.splitlines()[2]
    assert "—" in table.splitlines()[3]


def test_go_mod_pins_both_controllers_at_one_release() -> None:
    assert releases.version_tuple(build.version()) >= (1, 9)
    mismatched = releases.GoMod(requires={build.SOURCE: "v1.9.6", build.KUSTOMIZE: "v1.10.1"})
    with pytest.raises(gobuild.GoBuildError, match="source- and kustomize-controller"):
        build.version(mismatched)


def test_applied_holds_while_a_later_reconcile_runs() -> None:
    running = _kustomization(ready="Unknown")  # a periodic reconcile in progress keeps lastAppliedRevision
    assert flux.applied(SHA)(running)
    assert not flux.ready_at(SHA)(running)
    assert not flux.applied(SHA)(_kustomization(revision=""))
    assert not flux.applied(SHA)(_kustomization(generation=3, observed=2))
