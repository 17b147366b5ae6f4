"""devcluster.assets.locate: KUBEBUILDER_ASSETS (as envtest) wins over the cache; the cache is keyed
by the build id; missing binaries mean "build first"."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.devcluster import assets


def _binaries(folder: Path, names: tuple[str, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)


def test_kubebuilder_assets_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWARD_CACHE_DIR", str(tmp_path / "empty-cache"))
    envtest = tmp_path / "envtest"
    _binaries(envtest, (*assets.KUBE_BINARIES, "etcd"))
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(envtest))
    found = assets.locate()
    assert found is not None
    assert found.kube_apiserver == envtest / "kube-apiserver"
    assert found.etcd == envtest / "etcd"


def test_cache_is_keyed_by_build_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("GITWARD_CACHE_DIR", str(tmp_path))
    assert assets.kube_dir() == tmp_path / "k8s" / assets.BUILD_ID
    _binaries(tmp_path / "k8s" / "v1.20.2", assets.KUBE_BINARIES)  # an older build id: not used
    assert assets.locate() is None
    _binaries(assets.kube_dir(), assets.KUBE_BINARIES[:2])
    assert assets.locate() is None, "all three are needed"
    _binaries(assets.kube_dir(), assets.KUBE_BINARIES)
    found = assets.locate()
    if found is None:  # no etcd on this machine (make test installs it)
        pytest.fail("etcd-server is missing: run `make deps`")
    assert found.kube_scheduler == assets.kube_dir() / "kube-scheduler"
