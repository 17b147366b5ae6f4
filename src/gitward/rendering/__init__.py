"""Rendering: turn a checked-out path into Kubernetes objects (plain directories, kustomize, Helm)."""
