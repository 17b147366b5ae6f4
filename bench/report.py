"""Result rows, the table printed at the end of a run, and `bench/results/latest.json`.

Filled by the scenario modules (one `Row` per scenario), printed and saved by `bench.__main__`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PEERS = ("flux",)  # the peer systems measured in the same run (bench.peers), a column each
COLUMNS = ("scenario", "gitward", "baseline(s)", *PEERS, "ratio", "target", "result")


@dataclass
class Row:
    number: int
    scenario: str
    gitward: str
    baselines: str
    ratio: str
    target: str
    passed: bool | None  # None: not judged (e.g. a step failed)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    peers: dict[str, str] = field(default_factory=dict)  # peer -> its figure ("—": not comparable/measured)

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "n/a"}[self.passed]

    def cells(self) -> tuple[str, ...]:
        peers = tuple(self.peers.get(p, "—") for p in PEERS)
        return (
            f"{self.number} {self.scenario}",
            self.gitward,
            self.baselines,
            *peers,
            self.ratio,
            self.target,
            self.verdict,
        )


def failed_row(number: int, scenario: str, target: str, error: BaseException) -> Row:
    return Row(number, scenario, "error", "", "", target, None, [f"{type(error).__name__}: {error}"])


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (also readable in a terminal), notes below it."""
    cells = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    out = [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r.cells()) for r in rows]
    notes = [f"- {r.number}: {note}" for r in rows for note in r.notes]
    return "\n".join(out + (["", *notes] if notes else []))


def save(rows: list[Row], settings: dict[str, Any], path: Path | None = None) -> Path:
    path = path or RESULTS_DIR / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": settings,
        "scenarios": [
            {
                "number": r.number,
                "scenario": r.scenario,
                "gitward": r.gitward,
                "baselines": r.baselines,
                "peers": r.peers,
                "ratio": r.ratio,
                "target": r.target,
                "result": r.verdict,
                "notes": r.notes,
                "data": r.data,
            }
            for r in rows
        ],
        "table": [dict(zip(COLUMNS, r.cells(), strict=True)) for r in rows],
    }
    path.write_text(json.dumps(document, indent=2, default=_plain) + "\n")
    return path


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
