"""How repository URLs name the same place, as data shared by the layers that compare them: the URL
parser (`gitward.sourcing.urls`, which validates and normalises a repoURL) and the Project bounds
(`gitward.planning.projects`, which normalises `sourceRepos` globs the same way without parsing them).
"""

from __future__ import annotations

SCHEME_ALIASES = {"git+ssh": "ssh", "ssh+git": "ssh"}
"""Other spellings git accepts for a scheme."""

DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418, "oci": 443}
"""The port a scheme implies: written or not, the same repository (`oci://` is https)."""
