"""What a render takes from the cluster besides the checkout: Helm values from ConfigMaps and Secrets
(`source.helm.valuesFrom`), substitution variables (`source.substitute`) and decryption keys
(`spec.decryption`).

Built by the controller (`controller.inputs`, which reads the objects with the Application's
identity) and by the CLI; consumed by `engines.render` (values, keys) and `substitution` (variables).
Plain data. Secret-held content is marked so it can be masked; `fingerprint` stands for the whole in
cache keys without holding any of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from gitward.rendering.substitution import Variables

__all__ = ["Inputs", "ValuesDocument"]


@dataclass(frozen=True)
class ValuesDocument:
    """One `valuesFrom` entry's text, labelled `ConfigMap/ns/name[key]` for messages."""

    label: str
    text: str
    secret: bool = False


@dataclass(frozen=True)
class Inputs:
    helm_values: tuple[ValuesDocument, ...] = ()
    variables: Variables = field(default_factory=Variables)
    decryption_keys: tuple[tuple[str, bytes], ...] = ()  # (Secret entry name, key material)
    decryption_secret: str = ""  # `Secret/ns/name` the keys come from, for messages

    def fingerprint(self) -> str:
        """A digest of every input: equal inputs, equal renders (for cache keys; reveals nothing)."""
        digest = hashlib.sha256()
        for doc in self.helm_values:
            digest.update(json.dumps([doc.label, doc.text, doc.secret]).encode())
        digest.update(json.dumps([sorted(self.variables.values.items()), sorted(self.variables.secret_names)]).encode())
        for name, key in self.decryption_keys:
            digest.update(name.encode() + b"\0" + hashlib.sha256(key).digest())
        return digest.hexdigest()

    def secret_values(self) -> tuple[str, ...]:
        """Every Secret-held string, for masking in messages."""
        found = [doc.text for doc in self.helm_values if doc.secret]
        found += [self.variables.values[name] for name in self.variables.secret_names]
        return tuple(v for v in found if v)
