"""Image policy markers (gitward.controller.images.markers): the marked values change, nothing else
in the file does — comments, quoting, indentation, other documents and unmarked images."""

from __future__ import annotations

import pytest

from gitward.controller.images import markers

LATEST = {"apps:web": "registry.local:5000/org/web:1.2.0", "apps:api": "ghcr.io/org/api:v2"}

BEFORE = """\
# the web deployment; keep this comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # trailing comment kept
spec:
  template:
    spec:
      containers:
        - name: web
          image: registry.local:5000/org/web:1.0.0 # {"$imagepolicy": "apps:web"}
        - image: "ghcr.io/org/api:v1"  # {"$imagepolicy": "apps:api"}
          name: api
        - name: sidecar
          image: busybox:1.36
---
values:
  image:
    repository: 'registry.local:5000/org/old'   # {"$imagepolicy": "apps:web:name"}
    tag: "1.0.0" # {"$imagepolicy": "apps:web:tag"}
  other: x # {"$imagepolicy": "other:policy"}
list:
  - registry.local:5000/org/web:0.9 # {"$imagepolicy": "apps:web"}
"""

AFTER = """\
# the web deployment; keep this comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # trailing comment kept
spec:
  template:
    spec:
      containers:
        - name: web
          image: registry.local:5000/org/web:1.2.0 # {"$imagepolicy": "apps:web"}
        - image: "ghcr.io/org/api:v2"  # {"$imagepolicy": "apps:api"}
          name: api
        - name: sidecar
          image: busybox:1.36
---
values:
  image:
    repository: 'registry.local:5000/org/web'   # {"$imagepolicy": "apps:web:name"}
    tag: "1.2.0" # {"$imagepolicy": "apps:web:tag"}
  other: x # {"$imagepolicy": "other:policy"}
list:
  - registry.local:5000/org/web:1.2.0 # {"$imagepolicy": "apps:web"}
"""


def test_marked_values_change_and_nothing_else() -> None:
    text, changes, problems = markers.rewrite(BEFORE, LATEST)
    assert text == AFTER
    assert problems == []
    assert [(c.line, c.policy, c.old, c.new) for c in changes] == [
        (11, "apps:web", "registry.local:5000/org/web:1.0.0", "registry.local:5000/org/web:1.2.0"),
        (12, "apps:api", "ghcr.io/org/api:v1", "ghcr.io/org/api:v2"),
        (19, "apps:web", "registry.local:5000/org/old", "registry.local:5000/org/web"),
        (20, "apps:web", "1.0.0", "1.2.0"),
        (23, "apps:web", "registry.local:5000/org/web:0.9", "registry.local:5000/org/web:1.2.0"),
    ]


def test_a_second_pass_changes_nothing() -> None:
    text, _, _ = markers.rewrite(BEFORE, LATEST)
    again, changes, _ = markers.rewrite(text, LATEST)
    assert again == text
    assert changes == []


def test_crlf_line_endings_are_kept() -> None:
    text, changes, _ = markers.rewrite('a: x:1 # {"$imagepolicy": "apps:web"}\r\nb: 2\r\n', LATEST)
    assert text == 'a: registry.local:5000/org/web:1.2.0 # {"$imagepolicy": "apps:web"}\r\nb: 2\r\n'
    assert len(changes) == 1


@pytest.mark.parametrize(
    "line",
    [
        'image: | # {"$imagepolicy": "apps:web"}\n',
        'image: [a, b] # {"$imagepolicy": "apps:web"}\n',
        'image: x # {"$imagepolicy": "apps:web:digest"}\n',
    ],
)
def test_unusable_markers_are_reported_and_left_alone(line: str) -> None:
    text, changes, problems = markers.rewrite(line, LATEST)
    assert text == line
    assert changes == []
    assert len(problems) == 1


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("ghcr.io/org/app:1.0", ("ghcr.io/org/app", "1.0")),
        ("localhost:5000/app:v2", ("localhost:5000/app", "v2")),
        ("localhost:5000/app", ("localhost:5000/app", "")),
        ("nginx", ("nginx", "")),
    ],
)
def test_image_parts(image: str, parts: tuple[str, str]) -> None:
    assert markers.image_parts(image) == parts
