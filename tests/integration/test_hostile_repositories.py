"""Hostile repositories, end to end through the controller: each is refused with a condition, no
object of it is written, nothing outside the checkout is read, and the controller stays up (a good
Application next to them keeps syncing)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer, Symlink

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

MARKER = "outside-secret-marker-7f3a"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


def cases(outside: Path) -> dict[str, tuple[Mapping[str, object], str, str]]:
    """name → (files, source path, text the condition must contain)."""
    return {
        "symlink-to-file": (
            {"app/cm.yaml": CM.format(name="x"), "app/link.yaml": Symlink(str(outside / "secret.yaml"))},
            "app", "link.yaml",
        ),
        "symlink-to-dir": ({"app/cm.yaml": CM.format(name="x"), "app/dir": Symlink(str(outside))}, "app", "dir"),
        # a climbing or absolute spec.source.path never gets this far: the CRD refuses it, and an
        # Application that arrives with one is InvalidSpec (tests/integration/test_spec_injection.py);
        # the renderer's own refusal is tested in tests/unit/rendering/test_rendering_hostile.py
        "kustomize-outside-root": (
            {"app/kustomization.yaml": "resources:\n  - cm.yaml\n  - ../../../../outside/secret.yaml\n",
             "app/cm.yaml": CM.format(name="x")},
            "app", "secret.yaml",
        ),
        "huge-file": ({"app/cm.yaml": CM.format(name="x"), "app/huge.yaml": "# " + "x" * (5 * 1024 * 1024)},
                      "app", "huge.yaml"),
        "yaml-bomb": ({"app/cm.yaml": CM.format(name="x"), "app/bomb.yaml": BOMB}, "app", "bomb.yaml"),
        "kustomize-cycle": (
            {"app/kustomization.yaml": "resources:\n  - ../other\n  - cm.yaml\n", "app/cm.yaml": CM.format(name="x"),
             "other/kustomization.yaml": "resources:\n  - ../app\n"},
            "app", "",
        ),
    }  # fmt: skip


CASE_NAMES = sorted(cases(Path("/nonexistent")))


@pytest.mark.parametrize("case", CASE_NAMES)
async def test_hostile_repository_is_refused(
    case: str,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(CM.format(name=MARKER))
    files, path, named = cases(outside)[case]
    hostile = make_repo("hostile")
    hostile.commit(dict(files))  # type: ignore[arg-type]
    good = make_repo("good")
    good_sha = good.commit({"cm.yaml": CM.format(name="good")})
    await kube.create(apps.application("hostile", namespace, git_http_server.publish(hostile, "hostile.git"), path))
    await kube.create(apps.application("good", namespace, git_http_server.publish(good, "good.git")))

    def refused(status: apps.Status) -> bool:
        return any(c["status"] == "True" and c["type"] in ("RenderError", "SourceError", "ValidationError")
                   for c in status.get("conditions") or [])  # fmt: skip

    status = await apps.wait_status(kube, namespace, "hostile", refused)
    message = " ".join(c["message"] for c in status["conditions"] if c["type"] != "Ready")
    assert named in message
    assert MARKER not in str(status)
    cache = str(tmp_path / "cache")
    assert cache not in message and "checkout-" not in message, "messages must not reveal the controller's paths"
    items, _ = await kube.list("v1", "ConfigMap", namespace, label_selector="app.kubernetes.io/managed-by=gitward")
    assert {cm["metadata"]["name"] for cm in items} <= {"good"}
    await apps.wait_status(kube, namespace, "good", apps.synced_at(good_sha))
