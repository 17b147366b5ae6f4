"""ApplicationSet templates rendered in the sandbox, over plain data: parameters (dotted too),
filters, and everything hostile refused with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.controller.appsets import templates
from gitward.core import applicationsets as sets

PARAMS = {
    "path": "apps/guest-book",
    "path.basename": "guest-book",
    "path.basenameNormalized": "guest-book",
    "env": "Prod",
    "metadata.labels.region": "east",
    "big": "x" * 8000,
    "path[0]": "apps",
    "path[1]": "guest-book",
}


def tmpl(name: str, spec: dict[str, Any] | None = None, **meta: Any) -> sets.Template:
    body = spec or {"source": {"repoURL": "https://git.example.com/r.git", "path": "{{path}}"}}
    return sets.Template.model_validate({"metadata": {"name": name, **meta}, "spec": body})


def test_parameters_filters_and_dotted_names() -> None:
    rendered = templates.render(
        tmpl(
            "{{path.basename}}-{{ env | lower }}",
            labels={"region": "{{metadata.labels.region}}", "{{ 'team' }}": "a", "top": "{{path[0]}}"},
            annotations={"note": "{{ env if env == 'Prod' else 'other' }} {{ missing | default('none') }}"},
        ),
        PARAMS,
    )
    assert rendered.name == "guest-book-prod"
    assert rendered.labels == {"region": "east", "team": "a", "top": "apps"}
    assert rendered.annotations == {"note": "Prod none"}
    assert rendered.spec["source"]["path"] == "apps/guest-book"
    same = tmpl("{{path.basename}}", labels={"r": "{{metadata.labels.region}}"})
    digest = templates.render(same, PARAMS).digest()
    assert templates.render(same, PARAMS).digest() == digest
    assert templates.render(same, {**PARAMS, "metadata.labels.region": "west"}).digest() != digest


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("{{ ''.__class__ }}", "not allowed"),
        ("{{ env.__class__.__mro__ }}", "not allowed"),
        ("{{ env['__class__'] }}", "unsafe"),
        ("{{ env|attr('__class__') }}", "not allowed"),
        ("{{ lipsum(10) }}", "not allowed"),
        ("{{ range(10) }}", "not allowed"),
        ("{% for i in range(99999999) %}x{% endfor %}", "not allowed"),
        ("{% set x = 1 %}", "not allowed"),
        ("{% include '/etc/passwd' %}", "not allowed"),
        ("{{ env * 99999999 }}", "not allowed"),
        ("{{ env ** 99 }}", "not allowed"),
        ("{{ '%s' % env }}", "not allowed"),
        ("{{ missing }}", "undefined"),
        ("{{ path }}", "must be a DNS-1123 subdomain"),
        ("{{ unclosed", "unexpected"),
        ("{{ env }}-x", "must be a DNS-1123 subdomain"),
    ],
)
def test_hostile_or_broken_templates_are_refused(name: str, message: str) -> None:
    with pytest.raises(templates.TemplateFailure, match=message):
        templates.render(tmpl(name), PARAMS)


def test_output_is_bounded() -> None:
    with pytest.raises(templates.TemplateFailure, match="more than"):
        templates.render(tmpl("a", annotations={"x": "{{big}}{{big}}{{big}}"}), PARAMS)
    many = {f"k{i}": "{{big}}" for i in range(40)}
    with pytest.raises(templates.TemplateFailure, match="over"):
        templates.render(tmpl("a", annotations=many), PARAMS)


def test_the_rendered_spec_must_be_a_valid_application_spec() -> None:
    with pytest.raises(templates.TemplateFailure, match=r"spec\.source"):
        templates.render(tmpl("a", {"source": {"repoURL": "https://x/r.git", "path": "../{{path}}"}}), PARAMS)
    with pytest.raises(templates.TemplateFailure, match=r"spec\.source"):
        templates.render(tmpl("a", {"destination": {}}), PARAMS)


def test_duplicates() -> None:
    assert templates.duplicates(["a", "b", "a", "c", "b"]) == ["a", "b"]
