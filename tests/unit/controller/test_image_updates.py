"""The file side of an image update (gitward.controller.images.updating): which files are rewritten
under `update.path`, what stays untouched, and the commit message from the template subset."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.controller.images import updating
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
