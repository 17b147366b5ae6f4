"""Keeping Secret values out of messages: API server errors about a Secret may echo its data.

Called by `applying.validating` and `applying.applier` before an error message is stored in a
change, condition, event or log.
"""

from __future__ import annotations

import base64
import binascii

from gitward.core import redaction
from gitward.core.manifests import Manifest


def secret_values(obj: Manifest) -> tuple[str, ...]:
    """Every value of a Secret's data/stringData, base64 and decoded; () for other kinds."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return ()
    values: list[str] = []
    for key in ("data", "stringData"):
        section = obj.get(key)
        if not isinstance(section, dict):
            continue
        for value in section.values():
            if not isinstance(value, str):
                continue
            values.append(value)
            if key == "data":
                try:
                    values.append(base64.b64decode(value, validate=True).decode("utf-8", "replace"))
                except (binascii.Error, ValueError):
                    continue
            else:
                values.append(base64.b64encode(value.encode()).decode())
    return tuple(v for v in values if v)


def clean(message: str, obj: Manifest) -> str:
    """`message` without the object's Secret values or any credential-looking text."""
    return redaction.redact(message, secret_values(obj))
