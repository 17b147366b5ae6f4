"""The Helm engine's side of a chart render: a short-lived process that runs Helm's Go template engine.

Started by `helm_runner` as `python -m gitward.rendering.helm_worker REQUEST` and never imported by
the controller itself: Helm runs in-process as a Go shared library (the PyPI package
`helm-python-sdk`, pinned), and a hostile chart that makes Go run out of memory ends in a *fatal*
Go runtime error that no caller can catch. In a process of its own, with its address space capped
here before the library loads, such a chart costs one dead worker and a `RenderError`.

The request (JSON file) names a chart directory (a private copy), the merged values, the release
name and namespace and the destination's capabilities. The answer on stdout is JSON:

    {"manifests": {"<chart>/templates/x.yaml": "<rendered text>", ...},
     "crds": [{"file": "<chart>/crds/x.yaml", "data": "<text>"}, ...],
     "lookups": ["<chart>/templates/y.yaml", ...]}     templates that call `lookup` (empty results)

or `{"error": "<message>"}` with exit status 1. This is the only module that imports `helm_python`.
"""

from __future__ import annotations

import json
import re
import resource
import sys
from pathlib import Path
from typing import Any

_LOOKUP = re.compile(r"\blookup\b")


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    _cap_memory(int(request["memory_bytes"]))
    try:
        answer = render(request)
    except Exception as exc:  # every Helm error becomes a message; the parent makes it a RenderError
        sys.stdout.write(json.dumps({"error": _message(exc)}))
        return 1
    sys.stdout.write(json.dumps(answer))
    return 0


def _cap_memory(limit: int) -> None:
    """Bound the address space (Go's heap included) before the Go runtime starts."""
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def render(request: dict[str, Any]) -> dict[str, Any]:
    """Load the chart, check its dependencies are vendored, render it with the given capabilities."""
    import helm_python  # loads the Go library: only after the memory cap is in place
    from helm_python import _native  # helm_render's capability options are not wrapped (yet)

    with helm_python.Chart.load(request["chart"]) as chart:
        _check_dependencies(chart.metadata, chart.dependencies)
        options = {
            "name": request["release"],
            "namespace": request["namespace"],
            "is_install": True,
        }
        if request.get("kube_version"):
            options["kube_version"] = request["kube_version"]
        if request.get("api_versions"):
            options["api_versions"] = list(request["api_versions"])
        text = _native.call_string("helm_render", chart._raw(), json.dumps(request["values"]), json.dumps(options))
        manifests: dict[str, str] = json.loads(text)
        crds = [{"file": crd["filename"], "data": crd["data"]} for crd in chart.crds]
        lookups = sorted(t["name"] for t in chart.templates if _LOOKUP.search(t["data"]))
    return {"manifests": manifests, "crds": crds, "lookups": lookups}


def _check_dependencies(metadata: dict[str, Any], loaded: list[dict[str, Any]]) -> None:
    """Refuse a chart whose declared dependencies are not in `charts/` (nothing is downloaded)."""
    present = {str(dep.get("name")) for dep in loaded}
    for dep in metadata.get("dependencies") or []:
        name = str(dep.get("name"))
        if name not in present:
            raise LookupError(
                f"Chart.yaml: dependency {name!r} is not in charts/ "
                "(gitward renders offline: vendor dependencies with `helm dependency build` and commit them)"
            )


def _message(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail if detail else exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main(sys.argv))
