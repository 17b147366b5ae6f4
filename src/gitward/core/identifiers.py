"""The grammars of every identifier a spec can carry (SPEC §2, §6), checked at the boundary.

A name from an Application or Project spec ends up in HTTP headers (impersonation), URL paths
(namespaces, Secret names), git and Helm argument lists and file paths. Each one is held to
Kubernetes' own rules (DNS-1123 labels and subdomains) or to a strict grammar here, in the pydantic
models (`gitward.core.applications`), and the same patterns are in the CRD schemas under
`deploy/crds/` (a unit test keeps both equal), so the API server refuses a bad Application before
gitward sees it. The patterns are written for both Python's `re` and Go's RE2 (the API server's
regexp): no look-around, no back-references.

Every pattern also accepts nothing but printable ASCII: no CR, LF, NUL or other control characters
can pass any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GRAMMARS", "Grammar", "check"]


@dataclass(frozen=True)
class Grammar:
    """One identifier grammar: a full-match pattern, a maximum length and what it is, for messages."""

    pattern: str
    max_length: int
    describes: str

    def problem(self, value: str) -> str | None:
        """Why `value` does not fit, or None when it does."""
        if len(value) > self.max_length:
            return f"must be at most {self.max_length} characters (got {len(value)})"
        if not re.fullmatch(self.pattern, value):
            return f"must be {self.describes} (got {_show(value)})"
        return None


_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(\.{_LABEL})*"
# a path segment: no "/" and no ".." (a dot must be followed by a non-dot); never starts with "-"
_SEG_CHAR = r"[A-Za-z0-9_+@=,~-]"
_SEGMENT = rf"(\.|([A-Za-z0-9_+@=,~]|\.{_SEG_CHAR})({_SEG_CHAR}|\.{_SEG_CHAR})*\.?)"
_REF_CHAR = r"[A-Za-z0-9_+@=,/-]"

GRAMMARS: dict[str, Grammar] = {
    # Kubernetes object names (DNS-1123)
    "label": Grammar(rf"^{_LABEL}$", 63, "a DNS-1123 label (lower-case letters, digits and '-')"),
    "subdomain": Grammar(rf"^{_SUBDOMAIN}$", 253, "a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')"),
    "optional-label": Grammar(rf"^({_LABEL})?$", 63, "empty or a DNS-1123 label"),
    "optional-subdomain": Grammar(rf"^({_SUBDOMAIN})?$", 253, "empty or a DNS-1123 subdomain"),
    # Helm release names (Helm's own rule: a DNS-1123 subdomain of at most 53 characters)
    "release-name": Grammar(rf"^({_SUBDOMAIN})?$", 53, "empty or a Helm release name (a DNS-1123 subdomain)"),
    # a relative path inside the repository: segments without "..", never absolute, never "-…"
    "path": Grammar(
        rf"^{_SEGMENT}(/{_SEGMENT})*/?$",
        1024,
        "a relative path inside the repository (letters, digits, '._-+@=,~'; no '..', no leading '/' or '-')",
    ),
    # Helm value files, relative to the chart's directory: ".." may climb towards the repository root
    # (the renderer confines every value file to the checkout); never absolute, never "-…", no URL
    "value-file": Grammar(
        r"^[A-Za-z0-9_.+@=,~][A-Za-z0-9_.+@=,~/-]*$",
        1024,
        "a path relative to the chart (letters, digits, '._-+@=,~/'; no leading '/' or '-', no URL)",
    ),
    # git revisions (branch, tag, commit) and, for charts, Helm version constraints (`^1.2`, `>=1 <2`,
    # `1.2.x`, `*`): printable ASCII, never starting with "-", "/", "." or a space (git gets them after
    # --end-of-options and only as names to match against the remote's refs)
    "revision": Grammar(
        r"^[A-Za-z0-9_*^~<>=!][ -~]*$",
        255,
        "a branch, tag, commit SHA or chart version constraint (printable; not starting with '-', '/' or '.')",
    ),
    # a Helm chart name: one segment, no "..", starting with a letter, digit or "_"
    "chart": Grammar(
        r"^([A-Za-z0-9_]([A-Za-z0-9_-]|\.[A-Za-z0-9_-])*)?$",
        250,
        "empty or a chart name (letters, digits, '_', '-', '.'; no '/' or '..')",
    ),
    # repository URLs: printable, no whitespace, starting with a letter or digit (the full URL grammar
    # is gitward.sourcing.urls', which also refuses git's "<transport>::" syntax)
    "url": Grammar(r"^[A-Za-z0-9][!-~]*$", 2048, "a URL of printable characters without spaces"),
    # image automation (SPEC §12): Git branches to check out and push, commit author, intervals
    "branch": Grammar(
        r"^([A-Za-z0-9_][A-Za-z0-9_./-]*)?$", 255, "empty or a branch name (letters, digits, '_', '.', '/', '-')"
    ),
    "author-name": Grammar(r"^[ -;=?-~]*$", 255, "a name without '<', '>' or control characters"),
    "email": Grammar(r"^[!-;=?-~]+@[!-;=?-~]+$", 255, "an e-mail address without '<', '>' or spaces"),
    "duration": Grammar(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", 32, "a duration such as 30s, 5m or 1h30m"),
    # include/exclude globs and Project globs: printable ASCII, spaces allowed
    "glob": Grammar(r"^[ -~]*$", 1024, "a glob of printable characters"),
    # syncOptions: Name=value
    "sync-option": Grammar(r"^[A-Za-z][A-Za-z0-9]*=[!-~]*$", 253, "Name=value"),
    # Kubernetes API groups and kinds (Project resource lists; "*" allowed)
    "group": Grammar(rf"^(\*|{_SUBDOMAIN})?$", 253, "empty, '*' or an API group"),
    "kind": Grammar(r"^(\*|[A-Za-z][A-Za-z0-9]*)$", 63, "'*' or a kind"),
    # ignoreDifferences: RFC 6901 JSON pointers ('~0' is '~', '~1' is '/') and field manager names
    "json-pointer": Grammar(r"^(/([ -.0-}]|~[01])*)+$", 1024, "a JSON pointer ('/spec/replicas'; '~1' for '/')"),
    "field-manager": Grammar(r"^[!-~]([ -~]*[!-~])?$", 128, "a field manager name (printable characters)"),
    # Kubernetes label keys (an optional DNS subdomain prefix and "/", then a name) and label values
    "label-key": Grammar(
        rf"^({_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        317,
        "a label key ([prefix/]name: letters, digits, '-', '_', '.')",
    ),
    "label-value": Grammar(
        r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", 63, "a label value (at most 63 characters)"
    ),
    # a key of a ConfigMap's or Secret's data (Kubernetes' own rule)
    "config-key": Grammar(r"^[-._a-zA-Z0-9]+$", 253, "a ConfigMap or Secret key (letters, digits, '-', '_', '.')"),
    # a substitution variable's name (Flux postBuild's rule)
    "variable": Grammar(
        r"^[_a-zA-Z][_a-zA-Z0-9]*$", 253, "a variable name (letters, digits and '_'; no leading digit)"
    ),
    # kustomize options (source.kustomize): images as `name[=newName][:tag][@sha256:digest]`
    "image": Grammar(
        r"^[a-zA-Z0-9][a-zA-Z0-9._/:-]*(=[a-zA-Z0-9][a-zA-Z0-9._/:-]*)?(@sha256:[a-f0-9]{64})?$",
        1024,
        "an image override: name=newName:tag, name:tag or name@sha256:digest",
    ),
    "name-prefix": Grammar(
        r"^([a-z0-9][-a-z0-9.]*)?$", 63, "empty or a name prefix (lower-case letters, digits, '-', '.')"
    ),
    "name-suffix": Grammar(
        r"^([-a-z0-9.]*[a-z0-9])?$", 63, "empty or a name suffix (lower-case letters, digits, '-', '.')"
    ),
    # label and annotation keys (qualified names: an optional DNS subdomain prefix and "/"), label values
    "qualified-name": Grammar(
        rf"^({_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        317,
        "a label or annotation key ([prefix/]name: letters, digits, '-', '_', '.')",
    ),
    # a patch's target: API version, object name (kustomize matches it as a regular expression) and selectors
    "patch-version": Grammar(r"^([a-z0-9]+)?$", 63, "empty or an API version (v1, v1beta1)"),
    "patch-name": Grammar(
        r"^[-a-z0-9.*]*$", 253, "empty or an object name (lower-case letters, digits, '-', '.', '*')"
    ),
    "selector": Grammar(r"^[-A-Za-z0-9_./=!, ()]*$", 1024, "empty or a label selector"),
}


def check(grammar: str, value: str) -> str:
    """Return `value` when it fits `grammar`; raise ValueError saying why otherwise (pydantic validators)."""
    problem = GRAMMARS[grammar].problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _show(value: str) -> str:
    """The value for an error message: escaped, and cut at 80 characters."""
    shown = repr(value[:80])
    return shown + "…" if len(value) > 80 else shown
