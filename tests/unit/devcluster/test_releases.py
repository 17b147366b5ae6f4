"""devcluster.releases: reading go.mod, checking our staging replacements against kubernetes' own
go.mod, the version ldflags, and how `--kubernetes` / GITWARD_TEST_KUBERNETES pick a release."""

from __future__ import annotations

import pytest

from gitward.devcluster import releases

UPSTREAM = """\
// This is a generated file. Do not edit directly.
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
	github.com/blang/semver/v4 v4.0.0
	k8s.io/api v0.0.0
	k8s.io/apimachinery v0.0.0 // indirect
	k8s.io/utils v0.0.0-20260626114624-be93311217bd
)

require go.etcd.io/etcd/server/v3 v3.7.0 // indirect

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
	k8s.io/streaming => ./staging/src/k8s.io/streaming
)

replace github.com/example/fork => github.com/example/fork v1.2.3
"""

OURS = """\
module gitward.dev/devcluster/k8s

go 1.26.0

require k8s.io/kubernetes v1.37.2

tool (
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler
)

replace (
	k8s.io/api => k8s.io/api v0.37.2
	k8s.io/apimachinery => k8s.io/apimachinery v0.37.2 // a comment
	k8s.io/streaming => k8s.io/streaming v0.37.2
)
"""


def test_parse_go_mod_reads_blocks_single_lines_and_comments() -> None:
    mod = releases.parse_go_mod(UPSTREAM)
    assert mod.module == "k8s.io/kubernetes"
    assert mod.go == "1.26.0"
    assert mod.requires["k8s.io/apimachinery"] == "v0.0.0"
    assert mod.requires["go.etcd.io/etcd/server/v3"] == "v3.7.0"
    assert mod.replaces["k8s.io/api"] == ("./staging/src/k8s.io/api", "")
    assert mod.replaces["github.com/example/fork"] == ("github.com/example/fork", "v1.2.3")
    assert releases.staging_modules(mod) == ["k8s.io/api", "k8s.io/apimachinery", "k8s.io/streaming"]
    ours = releases.parse_go_mod(OURS)
    assert ours.tools == tuple(f"k8s.io/kubernetes/cmd/{c}" for c in releases.KUBE_COMMANDS)
    assert ours.replaces["k8s.io/apimachinery"] == ("k8s.io/apimachinery", "v0.37.2")


@pytest.mark.parametrize(
    ("kubernetes", "staging"), [("v1.37.2", "v0.37.2"), ("v1.34.4", "v0.34.4"), ("1.36", "v0.36.0")]
)
def test_staging_version(kubernetes: str, staging: str) -> None:
    assert releases.staging_version(kubernetes) == staging


def test_staging_version_refuses_other_majors() -> None:
    with pytest.raises(releases.ReleaseError):
        releases.staging_version("v2.0.1")


def test_a_complete_go_mod_has_no_problems() -> None:
    assert releases.go_mod_problems(releases.parse_go_mod(OURS), releases.parse_go_mod(UPSTREAM)) == []


def test_go_mod_problems_name_what_is_wrong() -> None:
    wrong = OURS.replace("k8s.io/api => k8s.io/api v0.37.2", "k8s.io/api => k8s.io/api v0.36.3")
    wrong = wrong.replace("\tk8s.io/streaming => k8s.io/streaming v0.37.2\n", "")
    wrong = wrong.replace("\tk8s.io/kubernetes/cmd/kube-scheduler\n", "")
    problems = releases.go_mod_problems(releases.parse_go_mod(wrong), releases.parse_go_mod(UPSTREAM))
    assert problems == [
        "replace k8s.io/api => k8s.io/api v0.36.3: want k8s.io/api v0.37.2",
        "staging module k8s.io/streaming of k8s.io/kubernetes v1.37.2 is not replaced",
        "tool k8s.io/kubernetes/cmd/kube-scheduler is missing",
    ]
    no_kubernetes = OURS.replace("require k8s.io/kubernetes v1.37.2", "")
    assert releases.go_mod_problems(releases.parse_go_mod(no_kubernetes)) == [
        "go.mod does not require k8s.io/kubernetes"
    ]


def test_the_committed_go_mod_pins_every_staging_module_to_the_kubernetes_version() -> None:
    text = (releases.GO_MODULE_DIR / "go.mod").read_text()
    ours = releases.parse_go_mod(text)
    assert releases.go_mod_problems(ours) == []
    version = ours.requires[releases.KUBERNETES_MODULE]
    staging = [old for old in ours.replaces if old.startswith("k8s.io/")]
    assert len(staging) >= 30, "kubernetes has more than 30 staging modules; all must be replaced"
    go_sum = (releases.GO_MODULE_DIR / "go.sum").read_text()
    assert f"{releases.KUBERNETES_MODULE} {version} h1:" in go_sum
    assert f"k8s.io/apiserver {releases.staging_version(version)} h1:" in go_sum


def test_ldflags_set_the_version_served_at_slash_version() -> None:
    flags = releases.ldflags("v1.37.2").split()
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"{package}.gitVersion=v1.37.2" in flags
        assert f"{package}.gitMajor=1" in flags
        assert f"{package}.gitMinor=37" in flags
    assert flags.count("-X") == 10


@pytest.mark.parametrize(
    ("text", "parsed"), [("v1.37.2", (1, 37, 2)), ("go1.26.8", (1, 26, 8)), ("1.26", (1, 26)), ("go1.27rc1", (1, 27))]
)
def test_version_tuple(text: str, parsed: tuple[int, ...]) -> None:
    assert releases.version_tuple(text) == parsed


RELEASES = {
    "1.20": releases.Release("1.20", "v1.20.2", "debian", "v1.20.2-reflect2-1.0.2"),
    "1.37": releases.Release("1.37", "v1.37.2", "go-modules", "v1.37.2"),
}


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("1.37", "1.37"),
        ("v1.37", "1.37"),
        ("1.37.2", "1.37"),
        ("v1.37.2", "1.37"),
        (" 1.20 ", "1.20"),
        ("1.20.2", "1.20"),
    ],
)
def test_resolve(spec: str, name: str) -> None:
    assert releases.resolve(spec, RELEASES).name == name


@pytest.mark.parametrize("spec", ["1.36", "1.37.1", "latest", "1"])
def test_resolve_names_the_choices_for_an_unknown_version(spec: str) -> None:
    with pytest.raises(releases.ReleaseError, match=r"1\.20 \(v1\.20\.2\), 1\.37 \(v1\.37\.2\)"):
        releases.resolve(spec, RELEASES)


def test_known_releases_are_1_20_and_the_go_mod_one() -> None:
    known = releases.known()
    current = releases.go_mod_release(releases.parse_go_mod((releases.GO_MODULE_DIR / "go.mod").read_text()))
    assert set(known) == {"1.20", current.name}
    assert known["1.20"].recipe == "debian" and not known["1.20"].etcd_built
    assert not known["1.20"].gateway_api
    assert current.recipe == "go-modules" and current.etcd_built and current.gateway_api
    assert current.build_id == current.version
    assert current.minor >= 34


def test_select_prefers_the_flag_then_the_environment_then_the_default() -> None:
    current = max(releases.known().values(), key=lambda r: r.minor)
    assert releases.select("1.20", {releases.ENV: current.name}).name == "1.20"
    assert releases.select(None, {releases.ENV: current.name}).name == current.name
    assert releases.select(None, {releases.ENV: ""}) == current, "the default: the current release"
    assert releases.select(None, {}) == current == releases.default(releases.known())
    with pytest.raises(releases.ReleaseError):
        releases.select(None, {releases.ENV: "1.19"})
