"""Drift fights: one object that another writer keeps changing back (SPEC §2: selfHeal reverts
drift within seconds, "with backoff against a fight with another writer").

Called by the reconciler around every self-heal sync, with one `FightGuard` per Application (kept
in its memory, not persisted). Pure: plain data, and the monotonic clock reading passed in.

Corrections are counted per object. People editing a few objects are not a fight: each object is
corrected at once, whatever the others do. A fight is one object corrected `LIMIT` times within
`WINDOW` seconds; from then on each of its corrections waits for an exponential back-off (`BASE`,
doubling, at most `CAP`), during which the sync skips that object alone (`held`) and the
reconciler requeues for the end of the back-off (`wake`). The fight is over, and the object
forgotten, once it stayed in sync for `WINDOW` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import comparing

__all__ = ["BASE", "CAP", "LIMIT", "WINDOW", "Fight", "FightGuard", "last_writer"]

WINDOW = 30.0  # seconds
LIMIT = 3  # corrections of one object within the window that make a fight
BASE = 5.0  # the first back-off, in seconds; doubles with every further correction
CAP = 300.0


@dataclass(frozen=True)
class Fight:
    """One object in a fight, as reported in the Application's status and Events."""

    ref: ObjectRef
    writer: str  # the other field manager, "" when unknown
    corrections: int  # by gitward, since the fight started
    backoff: float  # seconds between gitward's corrections now

    @property
    def message(self) -> str:
        who = f'field manager "{self.writer}"' if self.writer else "another writer"
        return (
            f"{self.ref}: changed back repeatedly by {who}; gitward corrected it {self.corrections} times "
            f"and now waits {self.backoff:g}s between corrections"
        )


@dataclass
class _Track:
    """What the guard knows of one object it corrected."""

    corrections: list[float] = field(default_factory=list)  # times, within the window
    strikes: int = 0  # corrections made in the fight (0: no fight)
    until: float = 0.0  # no correction before this time
    drifted_at: float = 0.0  # when it was last seen out of sync
    writer: str = ""


@dataclass
class FightGuard:
    window: float = WINDOW
    limit: int = LIMIT
    base: float = BASE
    cap: float = CAP
    _tracks: dict[ObjectRef, _Track] = field(default_factory=dict)

    def held(self, now: float) -> frozenset[ObjectRef]:
        """The objects whose drift must not be corrected now: they are backing off."""
        return frozenset(ref for ref, track in self._tracks.items() if track.until > now)

    def suspects(self, now: float) -> frozenset[ObjectRef]:
        """The objects whose next correction would be part of a fight: who changes them is worth
        looking up (the fight's report names the writer)."""
        return frozenset(
            ref
            for ref, track in self._tracks.items()
            if track.strikes or sum(now - t < self.window for t in track.corrections) >= self.limit - 1
        )

    def record(self, drifted: Mapping[ObjectRef, str], corrected: Iterable[ObjectRef], now: float) -> list[Fight]:
        """After a self-heal sync: `drifted` maps the objects found out of sync (corrected or held)
        to the writer that changed them ("" when unknown), `corrected` are those gitward wrote.
        Returns the fights that started with this sync."""
        for ref, writer in drifted.items():
            track = self._tracks.setdefault(ref, _Track())
            track.drifted_at = now
            track.writer = writer or track.writer
        started = []
        for ref in corrected:
            track = self._tracks.setdefault(ref, _Track())
            track.drifted_at = now
            track.corrections = [t for t in track.corrections if now - t < self.window] + [now]
            if track.strikes or len(track.corrections) >= self.limit:
                track.strikes += 1
                track.until = now + self.backoff(track.strikes)
                if track.strikes == 1:
                    started.append(self._fight(ref, track))
        return started

    def settle(self, now: float) -> list[ObjectRef]:
        """Forget the objects that stayed in sync for the window; return those whose fight ended."""
        ended = []
        for ref, track in list(self._tracks.items()):
            if now - track.drifted_at >= self.window:
                del self._tracks[ref]
                if track.strikes:
                    ended.append(ref)
        return ended

    def fights(self) -> list[Fight]:
        """The objects in a fight now, in a stable order."""
        found = [self._fight(ref, track) for ref, track in self._tracks.items() if track.strikes]
        return sorted(found, key=lambda fight: str(fight.ref))

    def wake(self, now: float) -> float | None:
        """Seconds until the next reconcile the fights need (a back-off ends, or a fight may be
        over); None when there is no fight."""
        times = []
        for track in self._tracks.values():
            if track.strikes:
                times.append(track.drifted_at + self.window)
                if track.until > now:
                    times.append(track.until)
        return max(min(times) - now, 0.0) if times else None

    def backoff(self, strikes: int) -> float:
        return float(min(self.base * 2 ** (strikes - 1), self.cap))

    def _fight(self, ref: ObjectRef, track: _Track) -> Fight:
        return Fight(ref, track.writer, track.strikes + self.limit - 1, self.backoff(max(track.strikes, 1)))


def last_writer(live: Manifest, own: str = comparing.FIELD_MANAGER) -> str:
    """The field manager that changed `live` last, other than `own`: the newest other entry of its
    `metadata.managedFields` (by time; the later entry on a tie); "" when there is none."""
    entries = (live.get("metadata") or {}).get("managedFields")
    newest, when = "", ""
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or entry.get("manager") in (own, None, ""):
            continue
        time = str(entry.get("time") or "")
        if time >= when:
            newest, when = str(entry["manager"]), time
    return newest
