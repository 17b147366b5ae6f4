"""`python -m bench.cel`: Policy-style CEL checks of 1,000 objects through gitward's bounded
evaluator (issue 15). Run by hand (`.venv/bin/python -m bench.cel`); not a test, not a scenario of
`python -m bench`. The workload is `bench.celworkload`.

Prints the median over several runs, in milliseconds, side by side:
- plain Python: the same three checks written in Python (the floor);
- CEL, whole objects in process: each object converted whole into a CEL context (what every
  evaluation cost before `controller.celprojection`);
- CEL through gitward's evaluator, new objects: 1,000 objects never seen (a new render), through
  the worker process (its start is not counted: it is warmed up first);
- CEL through gitward's evaluator, unchanged objects: the same 1,000 again (a re-render or
  re-check: the verdicts are remembered).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from cel_expr_python import cel

from bench.celworkload import OBJECTS, RULES, deployment, plain, write_result
from gitward.controller import celeval

RUNS = 7


def in_process(objects: list[dict[str, Any]]) -> list[list[bool]]:
    env = cel.NewEnv(variables={"object": cel.Type.DYN, "oldObject": cel.Type.DYN})
    programs = [env.compile(rule) for rule in RULES]
    out = []
    for o in objects:
        activation = env.Activation({"object": o, "oldObject": None})
        out.append([p.eval(activation).value() is True for p in programs])
    return out


def through(evaluator: celeval.Evaluator, objects: list[dict[str, Any]], rules: list[str] = RULES) -> list[list[bool]]:
    items = [celeval.Item({"object": o, "oldObject": None}, tuple(range(len(rules)))) for o in objects]
    return [[r.value for r in results] for results in evaluator.run(rules, items)]


def median_ms(measure: Any) -> float:
    times = []
    for run in range(RUNS):
        start = time.perf_counter()
        measure(run)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description="CEL checks of 1,000 objects through gitward's evaluator")
    parser.add_argument("--out", type=Path, help="also write the medians as JSON")
    args = parser.parse_args()
    evaluator = celeval.Evaluator(declared=("object", "oldObject"))
    try:
        through(evaluator, [deployment(i, "warm") for i in range(10)])  # the worker starts
        fresh = [[deployment(i, f"r{run}") for i in range(OBJECTS)] for run in range(RUNS)]
        fresh_one = [[deployment(i, f"one{run}") for i in range(OBJECTS)] for run in range(RUNS)]
        same = [deployment(i, "same") for i in range(OBJECTS)]
        expected = plain(same)
        assert through(evaluator, same) == expected == in_process(same), "CEL and Python disagree"
        rows = [
            ("plain Python", median_ms(lambda run: plain(fresh[run]))),
            ("CEL, whole objects in process", median_ms(lambda run: in_process(fresh[run]))),
            ("CEL via gitward's evaluator, new objects", median_ms(lambda run: through(evaluator, fresh[run]))),
            (
                "  the same, the third rule alone",
                median_ms(lambda run: through(evaluator, fresh_one[run], RULES[2:])),
            ),
            ("CEL via gitward's evaluator, unchanged objects", median_ms(lambda run: through(evaluator, same))),
        ]
    finally:
        evaluator.close()
    load = os.getloadavg()[0]
    print(f"{OBJECTS} objects x {len(RULES)} rules, median of {RUNS} runs (load average {load:.1f}):")
    for name, ms in rows:
        print(f"  {name:<48} {ms:8.1f} ms")
    if args.out:
        write_result(args.out, RUNS, median_ms={name.strip(): ms for name, ms in rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
