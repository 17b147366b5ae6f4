"""`python -m bench.cel_libraries`: which CEL library for Policies and health checks (issue 15) —
compile once, evaluate 1,000 objects.

Run by hand, not a test, from the repository's root with a Python that has the candidates
installed (only the first is a gitward dependency; put the others in a scratch virtualenv, never in
the project):

    python3 -m venv /tmp/celvenv
    /tmp/celvenv/bin/pip install cel-expr-python==0.1.3 common-expression-language==0.10.0 cel-python==0.5.0
    /tmp/celvenv/bin/python -m bench.cel_libraries [--out FILE.json]

Each library compiles the three Policy-style rules of `bench.celworkload` once, then evaluates each
rule over 1,000 distinct whole Deployments in process (the library's own cost: no worker, no
projection), and again over only what the rule reads of each (`projected`: what gitward's evaluator
hands its worker). The libraries take turns in a rotating order for several rounds, side by side in
one run; the median per (library, rule, whole or projected) is printed in milliseconds, and written
as JSON with `--out`.
A library whose answers differ from plain Python's is reported, not timed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.celworkload import OBJECTS, RULES, deployment, plain, projected, write_result

ROUNDS = 7
Evaluate = Callable[[list[dict[str, Any]]], list[bool]]


def cel_expr_python(rule: str) -> Evaluate:
    from cel_expr_python import cel

    env = cel.NewEnv(variables={"object": cel.Type.DYN})
    program = env.compile(rule)
    return lambda objects: [program.eval(data={"object": o}).value() is True for o in objects]


def common_expression_language(rule: str) -> Evaluate:
    import cel

    program = cel.compile(rule)
    return lambda objects: [program.execute(cel.Context(variables={"object": o})) is True for o in objects]


def cel_python(rule: str) -> Evaluate:
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(rule))
    return lambda objects: [bool(program.evaluate({"object": celpy.json_to_cel(o)})) for o in objects]


LIBRARIES: dict[str, tuple[str, Callable[[str], Evaluate]]] = {
    "cel-expr-python": ("cel_expr_python", cel_expr_python),
    "common-expression-language": ("cel", common_expression_language),
    "cel-python": ("celpy", cel_python),
}


def version(distribution: str) -> str:
    from importlib import metadata

    return metadata.version(distribution)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rounds = [[deployment(i, f"r{n}") for i in range(OBJECTS)] for n in range(ROUNDS)]
    truth = [[plain([o])[0][r] for o in rounds[0]] for r in range(len(RULES))]
    present = {name: make for name, (module, make) in LIBRARIES.items() if importlib.util.find_spec(module)}
    programs: dict[str, list[Evaluate]] = {}
    wrong: dict[str, str] = {}
    for name, make in present.items():
        programs[name] = [make(rule) for rule in RULES]
        for r, program in enumerate(programs[name]):
            if program(rounds[0]) != truth[r]:
                wrong[name] = f"rule {r} disagrees with plain Python"
    timed = [name for name in programs if name not in wrong]
    cut = [[[projected(o, r) for o in objects] for r in range(len(RULES))] for objects in rounds]
    times: dict[tuple[str, str, int], list[float]] = {}
    for n in range(ROUNDS):
        order = timed[n % len(timed) :] + timed[: n % len(timed)] if timed else []
        for name in order:
            for r, program in enumerate(programs[name]):
                for shape, objects in (("whole", rounds[n]), ("projected", cut[n][r])):
                    start = time.perf_counter()
                    program(objects)
                    times.setdefault((name, shape, r), []).append((time.perf_counter() - start) * 1000)
    load = os.getloadavg()[0]
    print(f"{OBJECTS} Deployments per rule, compiled once, median of {ROUNDS} rounds (load {load:.1f}), ms:")
    rows = []
    for name in timed:
        row: dict[str, Any] = {"library": name, "version": version(name)}
        for shape in ("whole", "projected"):
            row[f"ms_per_rule_{shape}"] = [statistics.median(times[(name, shape, r)]) for r in range(len(RULES))]
            shown = "  ".join(f"{m:8.1f}" for m in row[f"ms_per_rule_{shape}"])
            print(f"  {name + ' ' + version(name):<36} {shape:<10} {shown}")
        rows.append(row)
    for name, why in wrong.items():
        print(f"  {name}: not timed, {why}")
    if args.out:
        write_result(args.out, ROUNDS, results=rows, not_timed=wrong)
    return 0


if __name__ == "__main__":
    sys.exit(main())
