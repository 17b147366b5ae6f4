"""The application list's filters and counts (pure).

Called by gitward.server.dashboard.pages for `GET /`. Filters come from the query string
(`?sync=OutOfSync&health=Degraded&namespace=team`), so a filtered view is a shareable link; values
that cannot match anything known are ignored rather than answered with an error.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from gitward.server import schemas

__all__ = ["HEALTH_STATUSES", "SYNC_STATUSES", "Counts", "Filters", "count", "select"]

SYNC_STATUSES = ("Synced", "OutOfSync", "Unknown")
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Filters:
    sync: str = ""
    health: str = ""
    namespace: str = ""

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        sync, health, namespace = (str(query.get(k, "")) for k in ("sync", "health", "namespace"))
        return cls(
            sync=sync if sync in SYNC_STATUSES else "",
            health=health if health in HEALTH_STATUSES else "",
            namespace=namespace if _NAMESPACE.match(namespace) else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.sync or self.health or self.namespace)

    def matches(self, app: schemas.ApplicationSummary) -> bool:
        return (
            self.sync in ("", app.syncStatus)
            and self.health in ("", app.healthStatus)
            and self.namespace in ("", app.namespace)
        )

    def url(self, **changes: str) -> str:
        """The list's URL with these filters, some changed (`url(sync="OutOfSync")`)."""
        chosen = replace(self, **changes)
        query = {"sync": chosen.sync, "health": chosen.health, "namespace": chosen.namespace}
        encoded = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        return f"/?{encoded}" if encoded else "/"


@dataclass(frozen=True)
class Counts:
    total: int
    sync: list[tuple[str, int]]
    health: list[tuple[str, int]]


def select(apps: Iterable[schemas.ApplicationSummary], filters: Filters) -> list[schemas.ApplicationSummary]:
    return [app for app in apps if filters.matches(app)]


def count(apps: list[schemas.ApplicationSummary]) -> Counts:
    """How many applications, by sync and by health status (known statuses in order, then others)."""
    sync = Counter(app.syncStatus for app in apps)
    health = Counter(app.healthStatus for app in apps)
    return Counts(len(apps), _ordered(sync, SYNC_STATUSES), _ordered(health, HEALTH_STATUSES))


def _ordered(counter: Counter[str], order: tuple[str, ...]) -> list[tuple[str, int]]:
    known = [(status, counter[status]) for status in order if counter[status]]
    return known + sorted((s, n) for s, n in counter.items() if s not in order)
