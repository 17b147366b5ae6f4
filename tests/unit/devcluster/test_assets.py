"""devcluster.assets.locate: KUBEBUILDER_ASSETS (as envtest) wins over the cache; the cache is keyed
by each release's build id; missing binaries mean "build first"; etcd is the system's for 1.20 and the
one built with it for the current release."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitward.devcluster import assets, releases


def _binaries(folder: Path, names: tuple[str, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)


def _current() -> releases.Release:
    return next(r for r in releases.known().values() if r.recipe == "go-modules")


@pytest.mark.parametrize("name", ["1.20", "current"])
def test_kubebuilder_assets_are_honoured(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWARD_CACHE_DIR", str(tmp_path / "empty-cache"))
    envtest = tmp_path / "envtest"
    _binaries(envtest, (*assets.KUBE_BINARIES, "etcd"))
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(envtest))
    found = assets.locate(_current() if name == "current" else name)
    assert found is not None
    assert found.kube_apiserver == envtest / "kube-apiserver"
    assert found.etcd == envtest / "etcd"


def test_cache_is_keyed_by_build_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("GITWARD_CACHE_DIR", str(tmp_path))
    assert assets.kube_dir("1.20") == tmp_path / "k8s" / assets.BUILD_ID
    _binaries(tmp_path / "k8s" / "v1.20.2", assets.KUBE_BINARIES)  # an older build id: not used
    assert assets.locate("1.20") is None
    _binaries(assets.kube_dir("1.20"), assets.KUBE_BINARIES[:2])
    assert assets.locate("1.20") is None, "all three are needed"
    _binaries(assets.kube_dir("1.20"), assets.KUBE_BINARIES)
    found = assets.locate("1.20")
    if found is None:  # no etcd on this machine (make test installs it)
        pytest.fail("etcd-server is missing: run `make deps`")
    assert found.kube_scheduler == assets.kube_dir("1.20") / "kube-scheduler"
    assert found.etcd == Path(shutil.which("etcd") or "/usr/bin/etcd")


def test_the_current_release_runs_the_etcd_built_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("GITWARD_CACHE_DIR", str(tmp_path))
    current = _current()
    assert assets.kube_dir(current.name) == tmp_path / "k8s" / current.version
    _binaries(assets.kube_dir(current), assets.KUBE_BINARIES)
    assert assets.locate(current) is None, "its etcd is missing"
    _binaries(assets.kube_dir(current), ("etcd",))
    found = assets.locate(current)
    assert found is not None
    assert found.etcd == tmp_path / "k8s" / current.version / "etcd"
    assert assets.locate("1.20") is None, "another release's cache"


def test_an_unknown_release_is_an_asset_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(assets.AssetError, match="choose one of"):
        assets.locate("1.19")
    monkeypatch.setenv(releases.ENV, "9.9")
    with pytest.raises(assets.AssetError, match=r"9\.9"):
        assets.kube_dir()
