"""`python -m bench [--only 1,2,3] [--quick] [--profile DIR] [--keep]` — see `bench/__init__.py`.

`make bench` runs everything; `BENCH=1,2,3 make bench` a subset; `BENCH_QUICK=1` smaller sizes and
shorter windows for development (the table says so, and its figures are not the targets' sizes).
Every run writes `bench/results/latest.json` (or `--output`); a full-size run also writes
`bench/results/<date>T<time>Z.json`, the file to commit when the run is published.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from bench.environment import Environment, Settings, say
from bench.peers import flux_scenarios
from bench.report import Row
from bench.scenarios import appset, fleet, large, latency, memory, single

FAMILIES: list[tuple[set[int], Callable[[Environment, set[int]], list[Row]]]] = [
    ({1, 2, 3}, single.run),
    ({4, 5}, latency.run),
    ({6, 7}, fleet.run),
    ({8}, memory.run),
    ({9}, large.run),
    ({10}, appset.run),
]
ALL = {n for numbers, _ in FAMILIES for n in numbers}


def parse_only(text: str) -> set[int]:
    if not text.strip():
        return set(ALL)
    chosen = {int(part) for part in text.replace(" ", "").split(",") if part}
    unknown = chosen - ALL
    if unknown:
        raise argparse.ArgumentTypeError(f"no scenario {sorted(unknown)}; scenarios are 1-{max(ALL)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", type=parse_only, default=os.environ.get("BENCH", ""),
                        help="comma-separated scenario numbers (default: all, or $BENCH)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                        help="small sizes and short windows, for development (or $BENCH_QUICK=1)")  # fmt: skip
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record each measured window of the controller with py-spy into DIR")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the state dir (logs, repositories)")
    parser.add_argument("--cluster", type=Path, default=None, metavar="STATE_DIR",
                        help="reuse (or start and leave running) the control plane of this state dir")  # fmt: skip
    parser.add_argument("--no-peers", action="store_true", help="skip the Flux column (no Flux build)")
    parser.add_argument("--output", type=Path, default=report.RESULTS_DIR / "latest.json")
    args = parser.parse_args(argv)
    settings = Settings(quick=args.quick, profile_dir=args.profile, keep=args.keep, cluster_dir=args.cluster)
    env = Environment(settings)
    rows: list[Row] = []
    started = time.monotonic()
    try:
        env.start()
        for numbers, run in FAMILIES:
            chosen = numbers & args.only
            if not chosen:
                continue
            try:
                rows += run(env, chosen)
            except Exception as exc:  # the family's set-up failed: its rows say so, the others still run
                say(f"scenarios {sorted(chosen)} failed: {type(exc).__name__}: {exc}")
                rows += [report.failed_row(n, f"scenario {n}", "see the note", exc) for n in sorted(chosen)]
        if not args.no_peers:  # after gitward's families, so that the two never share the CPU
            flux_scenarios.add_to(env, args.only, rows)
    finally:
        env.close()
    rows.sort(key=lambda r: r.number)
    title = "gitward benchmark" + (" (QUICK mode: reduced sizes, not the targets' sizes)" if args.quick else "")
    print(f"\n{title}, {time.monotonic() - started:.0f} s\n")
    print(report.table(rows))
    settings_used = {
        "quick": args.quick,
        "only": sorted(args.only),
        "seconds": round(time.monotonic() - started),
        "profiled": args.profile is not None,  # py-spy sampling slows the controller a little
    }
    path = report.save(rows, settings_used, args.output)
    say(f"wrote {path}")
    if not args.quick:  # a full-size run gets its own file: commit it to publish the run
        dated = report.save(rows, settings_used, report.RESULTS_DIR / report.run_name())
        say(f"wrote {dated} (commit it and run `python -m bench.report docs --run {dated}` to publish)")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
