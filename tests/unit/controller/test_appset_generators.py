"""ApplicationSet generators, parameter flattening and the plan of writes, over plain data."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from gitward.controller.appsets import generators as gen
from gitward.controller.appsets.controller import ERROR_RETRY, retry_delay
from gitward.controller.appsets.reconciling import plan_changes
from gitward.core import applicationsets as sets


def tree(directories: list[str], files: dict[str, str] | None = None) -> gen.Tree:
    contents = files or {}
    return gen.Tree(directories, sorted(contents), lambda path: contents[path].encode())


def generator(raw: dict[str, Any]) -> sets.Generator:
    return sets.Generator.model_validate(raw)


def git(**spec: Any) -> dict[str, Any]:
    return {"git": {"repoURL": "https://git.example.com/r.git", "revision": "main", **spec}}


REPO = ("https://git.example.com/r.git", "main")


def test_git_directories_with_globs_and_exclusions() -> None:
    inputs = gen.Inputs(trees={REPO: tree(["apps", "apps/a", "apps/b_B", "apps/old", "apps/a/deep", "other"])})
    dirs = [{"path": "apps/*"}, {"path": "apps/old", "exclude": True}]
    params = gen.generate(generator(git(directories=dirs)), inputs)
    assert params == [
        {"path": "apps/a", "path.basename": "a", "path.basenameNormalized": "a", "path[0]": "apps", "path[1]": "a"},
        {
            "path": "apps/b_B",
            "path.basename": "b_B",
            "path.basenameNormalized": "b-b",
            "path[0]": "apps",
            "path[1]": "b_B",
        },
    ]
    deep = gen.generate(generator(git(directories=[{"path": "apps/**"}])), inputs)
    assert [p["path"] for p in deep] == ["apps/a", "apps/a/deep", "apps/b_B", "apps/old"]


def test_git_files_flatten_keys_and_refuse_bad_files() -> None:
    files = {"envs/dev/config.yaml": "env: dev\nnested: {a: {b: 1}, list: [x, true]}\n", "envs/x/readme.md": "no"}
    params = gen.generate(generator(git(files=[{"path": "envs/*/config.yaml"}])), gen.Inputs({REPO: tree([], files)}))
    assert params == [
        {
            "env": "dev",
            "nested.a.b": "1",
            "nested.list.0": "x",
            "nested.list.1": "true",
            "path": "envs/dev",
            "path.basename": "dev",
            "path.basenameNormalized": "dev",
            "path[0]": "envs",
            "path[1]": "dev",
            "path.filename": "config.yaml",
            "path.filenameNormalized": "config.yaml",
        }
    ]
    for bad in ("- a list\n", "a: [unclosed\n"):
        inputs = gen.Inputs({REPO: tree([], {"c.yaml": bad})})
        with pytest.raises(gen.GeneratorError):
            gen.generate(generator(git(files=[{"path": "*.yaml"}])), inputs)


def test_flatten_is_bounded() -> None:
    assert gen.flatten({"a": {"b": {"c": None}}, "e": {}, "n": 1.5}) == {"a.b.c": "", "e": "{}", "n": "1.5"}
    with pytest.raises(gen.GeneratorError, match="parameters"):
        gen.flatten({f"k{i}": i for i in range(gen.MAX_KEYS + 1)})
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(gen.MAX_DEPTH + 2):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(gen.GeneratorError, match="nested"):
        gen.flatten(deep)
    with pytest.raises(gen.GeneratorError, match="longer"):
        gen.flatten({"v": "x" * (gen.MAX_VALUE + 1)})


def test_clusters_by_selector() -> None:
    clusters = [
        gen.Cluster("in-cluster", "https://kubernetes.default.svc", {}),
        gen.Cluster("east", "https://east", {"env": "prod", "region": "east"}),
        gen.Cluster("west", "https://west", {"env": "dev"}),
    ]
    inputs = gen.Inputs(clusters=clusters)
    prod = gen.generate(generator({"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}), inputs)
    assert prod == [
        {"name": "east", "server": "https://east", "metadata.labels.env": "prod", "metadata.labels.region": "east"}
    ]
    expr = {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}
    assert [p["name"] for p in gen.generate(generator({"clusters": {"selector": expr}}), inputs)] == [
        "in-cluster",
        "west",
    ]
    assert len(gen.generate(generator({"clusters": {}}), inputs)) == 3


def test_matrix_and_merge() -> None:
    inputs = gen.Inputs(trees={REPO: tree(["a", "b"])})
    matrix = {
        "matrix": {
            "generators": [{"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}}, git(directories=[{"path": "*"}])]
        }
    }
    params = gen.generate(generator(matrix), inputs)
    assert [(p["env"], p["path"]) for p in params] == [("dev", "a"), ("dev", "b"), ("prod", "a"), ("prod", "b")]
    merge = {
        "merge": {
            "mergeKeys": ["app"],
            "generators": [
                {"list": {"elements": [{"app": "a", "v": "1"}, {"app": "b", "v": "1"}]}},
                {"list": {"elements": [{"app": "b", "v": "2", "extra": "y"}, {"app": "c", "v": "3"}]}},
            ],
        }
    }
    assert gen.generate(generator(merge), inputs) == [{"app": "a", "v": "1"}, {"app": "b", "v": "2", "extra": "y"}]


def test_matrix_products_are_bounded() -> None:
    many = {"list": {"elements": [{"i": str(i)} for i in range(200)]}}
    with pytest.raises(gen.GeneratorError, match="more than"):
        gen.generate(generator({"matrix": {"generators": [many, many]}}), gen.Inputs())


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"list": {"elements": []}, "clusters": {}},
        git(),
        git(directories=[{"path": "a"}], files=[{"path": "b"}]),
        {"matrix": {"generators": [{"list": {}}]}},
        {
            "matrix": {
                "generators": [
                    {
                        "matrix": {
                            "generators": [{"matrix": {"generators": [{"list": {}}, {"list": {}}]}}, {"list": {}}]
                        }
                    },
                    {"list": {}},
                ]
            }
        },
        git(directories=[{"path": "a"}], repoURL="-oProxyCommand=x"),
    ],
)
def test_invalid_generators_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        generator(raw)


def test_glob_regex() -> None:
    assert gen.glob_regex("apps/*").fullmatch("apps/x")
    assert not gen.glob_regex("apps/*").fullmatch("apps/x/y")
    assert gen.glob_regex("**/config.yaml").fullmatch("a/b/config.yaml")
    assert gen.glob_regex("**/config.yaml").fullmatch("config.yaml")
    assert gen.glob_regex("env-[ab]").fullmatch("env-a")
    assert not gen.glob_regex("env-[!ab]").fullmatch("env-a")
    assert not gen.glob_regex("a.b").fullmatch("axb")


def test_glob_regex_is_linear_and_refuses_a_bad_class() -> None:
    """`*a*a*a*a*a*a*a*b` over a 255-character directory name took Python's re O(n^8) steps."""
    assert not gen.glob_regex("*a*a*a*a*a*a*a*b").fullmatch("a" * 255)
    assert gen.glob_regex("**/**/**/**/**/x").fullmatch("a/" * 100 + "x")
    with pytest.raises(gen.GeneratorError, match="env-"):
        gen.glob_regex("env-[z-a]")


def _app(name: str, digest: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": {sets.SPEC_HASH: digest}}}


@pytest.mark.parametrize(
    ("mode", "create", "update", "delete"),
    [("sync", ["c"], ["b"], ["d"]), ("create-update", ["c"], ["b"], []), ("create-only", ["c"], [], [])],
)
def test_plan_follows_applications_sync(mode: str, create: list[str], update: list[str], delete: list[str]) -> None:
    desired = {"a": _app("a", "1"), "b": _app("b", "2"), "c": _app("c", "3")}
    live = {"a": _app("a", "1"), "b": _app("b", "old"), "d": _app("d", "4")}
    plan = plan_changes(desired, live, sets.SetSyncPolicy.model_validate({"applicationsSync": mode}))
    names = [[a["metadata"]["name"] for a in part] for part in (plan.create, plan.update, plan.delete)]
    assert names == [create, update, delete]


def test_plan_updates_applications_edited_since_the_set_wrote_them() -> None:
    desired = {"a": _app("a", "1"), "b": _app("b", "1")}
    live = {name: {"metadata": {**app["metadata"], "generation": 2}} for name, app in desired.items()}
    plan = plan_changes(desired, live, sets.SetSyncPolicy(), {"a": 1, "b": 2})
    assert [a["metadata"]["name"] for a in plan.update] == ["a"]


def _managed(manager: str, fields: dict[str, Any], subresource: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"manager": manager, "operation": "Update", "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    return entry


def test_plan_updates_applications_edited_by_hand_before_this_process_wrote_them() -> None:
    """After a restart the set remembers no generation: the managed fields say who edited the spec."""
    ours = _managed("gitward-applicationset", {"f:spec": {"f:source": {}}, "f:metadata": {}})
    edited = _managed("kubectl-edit", {"f:spec": {"f:source": {"f:path": {}}}})
    status = _managed("gitward", {"f:status": {}}, subresource="status")
    finalizer = _managed("gitward", {"f:metadata": {"f:finalizers": {}}})
    desired = {n: _app(n, "1") for n in ("a", "b", "c")}
    live = {
        "a": {"metadata": {**desired["a"]["metadata"], "managedFields": [ours, edited, status]}},
        "b": {"metadata": {**desired["b"]["metadata"], "managedFields": [ours, status, finalizer]}},
        "c": {"metadata": {**desired["c"]["metadata"], "managedFields": [ours, edited]}},
    }
    plan = plan_changes(desired, live, sets.SetSyncPolicy(), {"c": None})
    assert [a["metadata"]["name"] for a in plan.update] == ["a"]  # c: this process wrote it (generation None)
    create_only = sets.SetSyncPolicy.model_validate({"applicationsSync": "create-only"})
    assert plan_changes(desired, live, create_only).update == []


def test_a_failing_set_is_retried_soon_then_less_often() -> None:
    delays = [retry_delay(n) for n in range(1, 9)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delays[5:] == [ERROR_RETRY] * 3
    assert retry_delay(10_000) == ERROR_RETRY
