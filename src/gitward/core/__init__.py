"""Types and helpers shared by every layer: raw manifests, object references, errors, logging."""
