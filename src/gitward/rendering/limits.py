"""Bounds on what one render may read, build and take: the repository is hostile input (SPEC §6).

Passed by the controller and the CLI to `rendering.render`; every engine (directory, kustomize) and
the YAML loader check their share of it and raise `RenderError` when a bound is crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-render bounds. The defaults suit a large real-world configuration repository."""

    max_files: int = 25_000
    """Manifest files read by the directory engine; files in the private copy made for kustomize
    (an Application of 20,000 objects, one per file, fits: SPEC §2 "Size")."""
    max_file_bytes: int = 4 * MiB
    """One manifest file (or one kustomization file)."""
    max_total_bytes: int = 64 * MiB
    """All files read or copied, all YAML after alias expansion, and kustomize's output."""
    max_yaml_depth: int = 100
    """Nesting of mappings and sequences in one document, aliases expanded."""
    max_yaml_aliases: int = 1_000
    """Alias dereferences in one document once fully expanded (stops "billion laughs")."""
    render_timeout_seconds: float = 60.0
    """Wall-clock time one kustomize run may take before it is killed."""
    max_objects: int = 25_000
    """Kubernetes objects one render may produce."""


DEFAULT_LIMITS = Limits()
