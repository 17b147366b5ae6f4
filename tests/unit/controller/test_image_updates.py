"""The file side of an image update (gitward.controller.images.updating): which files are rewritten
under `update.path`, what stays untouched, and the commit message from the template subset."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gitward.controller.images import specs, updating
from gitward.controller.images.markers import Change
from gitward.core.errors import SourceError

LATEST = {"apps:web": "reg.local/web:2.0.0"}
MARKED = 'image: reg.local/web:1.0.0 # {"$imagepolicy": "apps:web"}\n'


def test_only_yaml_files_under_the_path_change(tmp_path: Path) -> None:
    (tmp_path / "deploy" / "sub").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "deploy" / "a.yaml").write_text(MARKED)
    (tmp_path / "deploy" / "sub" / "b.yml").write_text(MARKED)
    (tmp_path / "deploy" / "notes.txt").write_text(MARKED)
    (tmp_path / "other" / "c.yaml").write_text(MARKED)
    (tmp_path / "deploy" / "link.yaml").symlink_to(tmp_path / "other" / "c.yaml")
    changes = updating.rewrite_tree(tmp_path, "deploy", LATEST)
    assert len(changes) == 2
    assert "web:2.0.0" in (tmp_path / "deploy" / "a.yaml").read_text()
    assert "web:2.0.0" in (tmp_path / "deploy" / "sub" / "b.yml").read_text()
    assert (tmp_path / "deploy" / "notes.txt").read_text() == MARKED
    assert (tmp_path / "other" / "c.yaml").read_text() == MARKED  # not followed through the symlink


def test_a_missing_or_escaping_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such directory"):
        updating.rewrite_tree(tmp_path, "missing", LATEST)
    (tmp_path / "up").symlink_to(tmp_path.parent)
    with pytest.raises(SourceError, match="leaves the repository"):
        updating.rewrite_tree(tmp_path, "up", LATEST)


def test_message_template() -> None:
    changes = [Change(3, "apps:web", "reg/web:1", "reg/web:2"), Change(9, "apps:web", "1", "2")]
    message = updating.render_message(
        "deploy: {{ .AutomationObject }}\n\n{{ .Changes }}\n\n{{.Images}}\n{{ .Unknown }}", "apps/auto", changes
    )
    assert message == "deploy: apps/auto\n\n- reg/web:1 -> reg/web:2\n- 1 -> 2\n\n2\nreg/web:2\n{{ .Unknown }}"
    flux_default = "Update from image update automation\n{{ range .Changed.Changes }}{{ .OldValue }}{{ end }}"
    assert updating.render_message(flux_default, "a/b", changes).startswith("Update images\n\n- reg/web:1")
    assert updating.render_message("", "a/b", changes) == "Update images"


def app(repo_url: str, revision: str = "main", secret: str = "") -> dict[str, object]:
    source: dict[str, object] = {"repoURL": repo_url, "targetRevision": revision}
    if secret:
        source["secretRef"] = {"name": secret}
    return {"spec": {"source": source}}


def test_a_plan_takes_the_repository_from_the_application() -> None:
    spec = specs.AutomationSpec.model_validate({"sourceRef": {"name": "web"}, "update": {"path": "deploy"}})
    plan = updating.Plan("ns/auto", spec, app("https://git.example/org/config.git", "release", "git-creds"))
    assert (plan.repo_url, plan.secret_name, plan.checkout, plan.push) == (
        "https://git.example/org/config.git", "git-creds", "release", "release",
    )  # fmt: skip
    assert plan.path == "deploy"
    assert plan.author.email == "gitward@localhost"


def test_git_settings_override_the_application() -> None:
    spec = specs.AutomationSpec.model_validate(
        {
            "sourceRef": {"name": "web"},
            "git": {
                "repoURL": "ssh://git@git.example/org/other.git",
                "secretRef": {"name": "pusher"},
                "checkout": {"branch": "main"},
                "push": {"branch": "image-updates"},
                "commit": {"author": {"name": "Bot", "email": "bot@example.com"}},
            },
        }
    )
    plan = updating.Plan("ns/auto", spec, app("https://git.example/org/config.git", "a" * 40, "git-creds"))
    assert (plan.repo_url, plan.secret_name, plan.checkout, plan.push) == (
        "ssh://git@git.example/org/other.git", "pusher", "main", "image-updates",
    )  # fmt: skip
    assert plan.author == updating.gitwork.Identity("Bot", "bot@example.com")


def test_the_applications_credentials_never_go_to_another_repository() -> None:
    elsewhere = specs.AutomationSpec.model_validate(
        {"sourceRef": {"name": "web"}, "git": {"repoURL": "https://attacker.example/org/config.git"}}
    )
    plan = updating.Plan("ns/auto", elsewhere, app("https://git.example/org/config.git", "release", "git-creds"))
    assert (plan.repo_url, plan.secret_name, plan.checkout) == ("https://attacker.example/org/config.git", "", "main")
    same = specs.AutomationSpec.model_validate(
        {"sourceRef": {"name": "web"}, "git": {"repoURL": "ssh://git@GIT.example/org/config"}}
    )
    plan = updating.Plan("ns/auto", same, app("https://git.example/org/config.git", "release", "git-creds"))
    assert (plan.secret_name, plan.checkout) == ("git-creds", "release")


def test_a_pinned_commit_falls_back_to_main_and_oci_sources_are_refused() -> None:
    spec = specs.AutomationSpec.model_validate({"sourceRef": {"name": "web"}})
    assert updating.Plan("ns/a", spec, app("https://g/x.git", "a" * 40)).checkout == "main"
    with pytest.raises(SourceError, match="OCI artifact"):
        updating.Plan("ns/a", spec, app("oci://registry/x"))
    with pytest.raises(SourceError, match=r"no git\.repoURL"):
        updating.Plan("ns/a", specs.AutomationSpec(), None)


@pytest.mark.parametrize(
    "bad",
    [
        {"git": {"push": {"branch": "--force"}}},
        {"git": {"checkout": {"branch": "main\nx"}}},
        {"git": {"commit": {"author": {"name": "A <evil>", "email": "a@b"}}}},
        {"git": {"commit": {"author": {"email": "no-at-sign"}}}},
        {"update": {"path": "../outside"}},
        {"interval": "soon"},
    ],
)
def test_hostile_specs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        specs.AutomationSpec.model_validate(bad)
