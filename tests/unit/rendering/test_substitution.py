"""Variable substitution (`source.substitute`, Flux postBuild) on plain objects: references,
defaults, escapes, strict mode, precedence, opt-out, and values that try to inject structure."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from gitward.core.errors import RenderError
from gitward.rendering import substitution
from gitward.rendering.substitution import Variables


def cm(value: Any, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "settings", "namespace": "shop"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"value": value}}


def run(value: Any, variables: dict[str, str], *, strict: bool = False) -> Any:
    done = substitution.substitute([cm(value)], Variables(variables), strict=strict, max_bytes=1 << 20)
    return done.objects[0]["data"]["value"]


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${env}", {"env": "prod"}, "prod"),
        ("db.${env}.svc:${port}", {"env": "prod", "port": "5432"}, "db.prod.svc:5432"),
        ("${region:=eu-west-1}", {}, "eu-west-1"),
        ("${region:=eu-west-1}", {"region": ""}, "eu-west-1"),  # unset or empty: the default
        ("${region:=eu-west-1}", {"region": "us-east-2"}, "us-east-2"),
        ("${region:=}", {}, ""),
        ("$${env}", {"env": "prod"}, "${env}"),  # escaped
        ("${missing}", {}, ""),  # Flux without strict mode: empty
        ("$env and ${1x} and ${a-b} stay", {"env": "prod"}, "$env and ${1x} and ${a-b} stay"),
        ("no reference", {"env": "prod"}, "no reference"),
    ],
)
def test_references(text: str, variables: dict[str, str], expected: str) -> None:
    assert run(text, variables) == expected


def test_strict_mode_refuses_an_undefined_variable_naming_the_object() -> None:
    with pytest.raises(RenderError, match=r"ConfigMap/shop/settings: variable 'missing' is not defined"):
        run("${missing}", {}, strict=True)
    assert run("${missing:=ok}", {}, strict=True) == "ok"


def test_only_string_values_change_never_keys_or_other_types() -> None:
    obj = cm("x")
    obj["data"] = {"${key}": "${key}", "n": 3, "flag": True, "list": ["${key}", {"deep": "${key}"}]}
    [out] = substitution.substitute([obj], Variables({"key": "v"}), strict=False, max_bytes=1 << 20).objects
    assert out["data"] == {"${key}": "v", "n": 3, "flag": True, "list": ["v", {"deep": "v"}]}
    assert obj["data"]["list"] == ["${key}", {"deep": "${key}"}]  # the input is not changed


@pytest.mark.parametrize(
    "hostile",
    [
        "x\nkind: Secret\nmetadata: {name: stolen}",
        'x"\n  extra: injected\n',
        "x\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: evil}\n",
        "{a: 1}",
        "[1, 2]",
    ],
)
def test_a_value_never_injects_structure(hostile: str) -> None:
    done = substitution.substitute([cm("a: ${v}")], Variables({"v": hostile}), strict=False, max_bytes=1 << 20)
    [out] = done.objects
    assert out["data"] == {"value": "a: " + hostile}  # one string, whatever it holds
    assert set(out) == {"apiVersion", "kind", "metadata", "data"}
    # and once serialised, it reads back as the same single object
    assert list(yaml.safe_load_all(yaml.safe_dump(out))) == [out]


def test_opt_out_per_object() -> None:
    obj = cm("${env}", **{"gitward.dev/substitute": "disabled"})
    [out] = substitution.substitute([obj], Variables({"env": "prod"}), strict=True, max_bytes=1 << 20).objects
    assert out["data"]["value"] == "${env}"


def test_growth_is_bounded() -> None:
    with pytest.raises(RenderError, match="size limit"):
        substitution.substitute([cm("${v}" * 100)], Variables({"v": "x" * 1000}), strict=False, max_bytes=10_000)


def test_variables_from_configmaps_and_secrets_in_order_inline_vars_last() -> None:
    first = substitution.from_data("ConfigMap", "ConfigMap/shop/a", {"env": "dev", "region": "eu"})
    token = base64.b64encode(b"s3cr3t-token").decode()
    second = substitution.from_data(
        "Secret", "Secret/shop/b", {"env": base64.b64encode(b"prod").decode(), "token": token}
    )
    merged = first.merged(second).merged(Variables({"region": "us"}))
    assert dict(merged.values) == {"env": "prod", "region": "us", "token": "s3cr3t-token"}
    assert merged.secret_names == {"env", "token"}
    done = substitution.substitute([cm("${token}/${region}")], merged, strict=False, max_bytes=1 << 20)
    assert done.objects[0]["data"]["value"] == "s3cr3t-token/us"
    assert done.secret_values == ("s3cr3t-token",)  # reported, to be masked in diffs


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("ConfigMap", {"values.yaml": "x"}, "key 'values.yaml' is not a variable name"),
        ("Secret", {"token": "not base64!"}, "key 'token' is not base64-encoded UTF-8 text"),
    ],
)
def test_bad_variable_sources(kind: str, data: dict[str, str], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        substitution.from_data(kind, f"{kind}/shop/x", data)
