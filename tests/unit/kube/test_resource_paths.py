"""URL path injection: `ResourceInfo.path` makes every namespace, name and subresource exactly one
percent-encoded segment (or refuses it), and `check_path` holds every path the client sends to a
shape both request paths send unchanged. Plain data."""

from __future__ import annotations

import urllib.parse

import httpx2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gitward.kube import errors
from gitward.kube.client import _PATH_SAFE
from gitward.kube.discovery import ResourceInfo, check_path, gv_path, is_group_version

CONFIGMAPS = ResourceInfo("", "v1", "ConfigMap", "configmaps", True, frozenset())
DEPLOYMENTS = ResourceInfo("apps", "v1", "Deployment", "deployments", True, frozenset())
HOSTILE = ["a/b", "..", ".", "x?y", "%2F", "a%2Fb", "a#b", "a b", "a\r\nX-Injected: 1", "ünï/cödé", "名前", "..%2f",
           "?", "#", "%", "%%", "a;b", "a&b=c", "\x00", "\t", "victim?dryRun=All", "x/../../secrets", "~", "-x",
           "@:"]  # fmt: skip


def _unsendable(value: str) -> bool:
    return value in ("", ".", "..") or "/" in value or "%" in value


def _sent_unchanged(path: str) -> None:
    """Both request paths send `path` byte for byte: the direct one quotes it with `_PATH_SAFE`, the
    httpx2 one parses it into a URL (which would drop dot segments and re-encode)."""
    assert urllib.parse.quote(path, safe=_PATH_SAFE) == path
    assert httpx2.URL("https://api.example:6443" + path).raw_path == path.encode()


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=12), st.text(max_size=12), st.text(max_size=8))
@example("ns", "a/b", "status")
@example("..", "x", "")
@example("ns", "x?y=1", "")
@example("ns", "%2F", "")
@example("ns", "a\r\nb", "")
def test_a_name_is_one_segment_or_refused(namespace: str, name: str, subresource: str) -> None:
    """An empty namespace means "no namespace" (all namespaces); every other name is one segment."""
    named = ([namespace] if namespace else []) + [name] + ([subresource] if subresource else [])
    try:
        path = CONFIGMAPS.path(namespace, name, subresource)
    except errors.UnsafeRequestError:
        assert any(_unsendable(p) for p in named)
        return
    assert not any(_unsendable(p) for p in named)
    expected = ["", "api", "v1", *(["namespaces", namespace] if namespace else []), "configmaps", name]
    expected += [subresource] if subresource else []
    segments = path.split("/")
    assert len(segments) == len(expected)
    assert [urllib.parse.unquote(s) for s in segments] == expected
    assert "?" not in path and "#" not in path
    assert check_path(path) == path
    _sent_unchanged(path)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names(name: str) -> None:
    if _unsendable(name):
        with pytest.raises(errors.UnsafeRequestError, match="name"):
            DEPLOYMENTS.path("ns", name)
        with pytest.raises(errors.UnsafeRequestError, match="namespace"):
            DEPLOYMENTS.path(name, "web")
        return
    path = DEPLOYMENTS.path("ns", name, "scale")
    *fixed, encoded, sub = path.split("/")
    assert fixed == ["", "apis", "apps", "v1", "namespaces", "ns", "deployments"]
    assert (urllib.parse.unquote(encoded), sub) == (name, "scale")
    _sent_unchanged(path)


@pytest.mark.parametrize("what", ["", ".", "..", "a/b", "50%"])
def test_an_empty_or_dot_name_never_becomes_the_collection(what: str) -> None:
    """`name=""` once meant the collection: a DELETE of an object without a name deleted them all."""
    with pytest.raises(errors.UnsafeRequestError):
        CONFIGMAPS.path("ns", what)
    with pytest.raises(errors.UnsafeRequestError):
        CONFIGMAPS.path("ns", "x", what or "..")
    assert CONFIGMAPS.path("ns") == "/api/v1/namespaces/ns/configmaps"  # the collection: name None only


def test_cluster_scoped_and_rbac_names() -> None:
    roles = ResourceInfo("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, frozenset())
    assert roles.path("ignored", "system:controller:job") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:job"
    )


@pytest.mark.parametrize(
    ("group", "version"),
    [("a/b", "v1"), ("..", "v1"), ("apps", "../v1"), ("apps", ""), ("Apps", "v1"), ("apps", "v1/x"), ("a?b", "v1"),
     ("apps", "v1\r\n"), ("-apps", "v1"), ("a" * 254, "v1")],
)  # fmt: skip
def test_group_and_version_must_name_an_api(group: str, version: str) -> None:
    assert not is_group_version(group, version)
    with pytest.raises(errors.UnsafeRequestError, match="group/version"):
        gv_path(group, version)
    with pytest.raises(errors.UnsafeRequestError):
        ResourceInfo(group, version, "K", "ks", True, frozenset()).path("ns", "x")


def test_valid_group_versions() -> None:
    assert gv_path("", "v1") == "/api/v1"
    assert gv_path("gitward.dev", "v1alpha1") == "/apis/gitward.dev/v1alpha1"


@pytest.mark.parametrize(
    "path",
    ["api/v1", "/api/v1/namespaces/x/configmaps/..", "/api/v1/namespaces/x/configmaps/.", "/api/v1/%2e%2e/secrets",
     "/api/v1/namespaces/x/configmaps/a%2Fb", "/api/v1/namespaces/x/configmaps/a%2fb", "/api//v1", "/api/v1/",
     "/api/v1/x#frag", "/api/v1/x y", "/api/v1/x\r\nX: 1", "/api/v1/é", "/api/v1/%zz", "/api/v1/50%",
     "/api/v1/x?a=%zz", ""],
)  # fmt: skip
def test_check_path_refuses_paths_that_would_change(path: str) -> None:
    with pytest.raises(errors.UnsafeRequestError):
        check_path(path)


@pytest.mark.parametrize(
    "path", ["/", "/api", "/apis", "/version", "/api/v1/namespaces/x/configmaps/a%3Fb?limit=500&continue=x%3D"]
)
def test_check_path_accepts_what_the_client_sends(path: str) -> None:
    assert check_path(path) == path
    _sent_unchanged(path.partition("?")[0])
