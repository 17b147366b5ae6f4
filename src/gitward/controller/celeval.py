"""Bounded CEL evaluation: many expressions over many objects, in a worker process the caller can kill.

Used by the Policy checks (`controller.policies`) and the Applications' CEL health checks
(`controller.healthchecks`). Every expression is hostile: it is capped in length and bracket nesting
before it leaves this module, and evaluated in `controller.celworker` — a process with a capped
address space — because the CEL library (cel-expr-python, native code) holds the
interpreter lock and has no cost limit of its own. Each answer must come within `step_timeout`
seconds of the previous one; an expression that takes longer (or exhausts the worker's memory) has
the worker killed, is answered `ERROR` with a message saying it exceeded its bounds, is not evaluated
again in this batch, and is remembered as over budget (`blocked`) so that it costs one timeout, not
one per object or per reconcile. The next batch starts a new worker.

`Evaluator.run` blocks: call it from a thread (`asyncio.to_thread`) or where a bounded wait is
acceptable. One worker per Evaluator; calls are serialised.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitward.controller import celprojection
from gitward.core.logging import get_logger

__all__ = ["MAX_EXPRESSION", "MAX_NESTING", "Evaluator", "Item", "Result", "expression_problem"]

log = get_logger(__name__)

MAX_EXPRESSION = 4096
"""Longest expression, in characters (the CRDs carry the same maxLength)."""
MAX_NESTING = 32
"""Deepest nesting of (), [] and {}: past it the parser's recursion is refused before it starts."""
STEP_TIMEOUT = 2.0
"""Seconds an evaluation (or the worker's start) may take before the worker is killed."""
MEMORY_BYTES = 1024 * 1024 * 1024
"""Address space of the worker process."""
START_TIMEOUT = 30.0
"""Seconds the worker may take to start (a loaded machine: Python and the CEL library load)."""
MAX_BLOCKED = 1024
MAX_LINE = 64 * 1024

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding the gitward package


@dataclass(frozen=True)
class Result:
    """One evaluation: `value` is the boolean result when `error` is empty."""

    value: bool = False
    error: str = ""
    compile_error: bool = False  # the expression does not compile (as opposed to failing on this object)
    bounded: bool = False  # stopped by the time or memory bound (not a verdict on the object)


@dataclass(frozen=True)
class _Encoded:
    """An item as the worker receives it: its projected variables, encoded."""

    encoded: bytes
    run: tuple[int, ...]


@dataclass(frozen=True)
class Item:
    """The variables of one evaluation context and the indices of the expressions to run in it."""

    variables: dict[str, Any]
    run: tuple[int, ...]


def expression_problem(expression: str) -> str | None:
    """Why `expression` is refused before compiling (length, nesting, control characters), or None."""
    if not expression.strip():
        return "expression is empty"
    if len(expression) > MAX_EXPRESSION:
        return f"expression is longer than {MAX_EXPRESSION} characters"
    if any(ord(c) < 32 and c not in "\t\n\r" for c in expression):
        return "expression contains control characters"
    depth = deepest = 0
    for c in expression:
        if c in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"expression nests brackets deeper than {MAX_NESTING}"
    return None


class Evaluator:
    def __init__(
        self,
        step_timeout: float = STEP_TIMEOUT,
        memory_bytes: int = MEMORY_BYTES,
        declared: tuple[str, ...] | None = None,
    ) -> None:
        """`declared`: the variables every expression may read, type-checked when it compiles (a
        misspelt name is a compile error); None: whatever variables the items carry, unchecked."""
        self.step_timeout = step_timeout
        self.memory_bytes = memory_bytes
        self.declared = declared
        self.blocked: OrderedDict[str, str] = OrderedDict()  # expression → why it is no longer evaluated
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self.verdicts: celprojection.Verdicts[Result] = celprojection.Verdicts()
        self._trees: dict[tuple[tuple[str, ...], str], celprojection.Tree | None] = {}

    def compile_errors(self, expressions: list[str]) -> list[str | None]:
        """The compile error of each expression (None: it compiles)."""
        results = self.run(expressions, [Item({}, tuple(range(len(expressions))))])[0]
        return [r.error if r.compile_error else None for r in results]

    def run(self, expressions: list[str], items: list[Item]) -> list[list[Result]]:
        """For each item, the results of its expressions, in the order of `item.run`.

        Each item's variables are cut down to what its expressions read (`celprojection`); an
        (expression, projection) already answered is not sent again, nor twice in one call."""
        with self._lock:
            projected = [self._project(expressions, item) for item in items]
            answers: dict[tuple[int, int], Result] = {}
            unique: dict[str, tuple[dict[str, Any], dict[int, None]]] = {}  # digest → (variables, run)
            for n, (item, (variables, key)) in enumerate(zip(items, projected, strict=True)):
                for i in item.run:
                    known = self.verdicts.get(expressions[i], key)
                    if known is not None:
                        answers[(n, i)] = known
                    else:
                        unique.setdefault(key, (variables, {}))[1][i] = None
            keys = list(unique)
            sent = [_Encoded(celprojection.encode(unique[key][0]), tuple(unique[key][1])) for key in keys]
            holders: dict[str, list[int]] = {}
            for n, (_, key) in enumerate(projected):
                holders.setdefault(key, []).append(n)
            for key, one, results in zip(keys, sent, self._run(expressions, sent) if sent else [], strict=True):
                for i, result in zip(one.run, results, strict=True):
                    if not result.bounded:
                        self.verdicts.put(expressions[i], key, result)
                    for n in holders[key]:
                        answers.setdefault((n, i), result)
            return [[answers[(n, i)] for i in item.run] for n, item in enumerate(items)]

    def _project(self, expressions: list[str], item: Item) -> tuple[dict[str, Any], str]:
        """The item's variables as its expressions can read them, and their digest."""
        run = tuple(expressions[i] for i in item.run)
        variables = {
            name: celprojection.project(value, self._tree(run, name)) for name, value in item.variables.items()
        }
        return variables, celprojection.digest(variables)

    def _tree(self, run: tuple[str, ...], name: str) -> celprojection.Tree | None:
        """What the expressions `run` read of the variable `name` (scanned once)."""
        key = (run, name)
        if key not in self._trees:
            if len(self._trees) > MAX_BLOCKED:
                self._trees.clear()
            found = [None if expression_problem(e) else celprojection.paths(e, name) for e in run]
            chains = None if None in found else frozenset().union(*(f for f in found if f is not None))
            self._trees[key] = celprojection.tree(chains)
        return self._trees[key]

    def close(self) -> None:
        with self._lock:
            self._kill()

    # ------------------------------------------------------------------ internals

    def _run(self, expressions: list[str], items: list[_Encoded]) -> list[list[Result]]:
        answers: dict[tuple[int, int], Result] = {}
        refused = {i: problem for i, e in enumerate(expressions) if (problem := expression_problem(e))}
        over = {i: self.blocked[e] for i, e in enumerate(expressions) if e in self.blocked}
        for item_index, item in enumerate(items):
            for index in item.run:
                if index in refused:
                    answers[(item_index, index)] = Result(error=refused[index], compile_error=True)
                elif index in over:
                    answers[(item_index, index)] = Result(error=over[index], bounded=True)
        pending = _left(items, [(n, list(item.run)) for n, item in enumerate(items)], answers)
        combine = True  # each item's expressions as one program, until a bound is hit
        while pending:
            failed = self._batch(expressions, items, pending, answers, combine)
            if failed is None:
                break
            combine = False  # from now on one by one, so that the first unanswered is the one running
            (item_index, index), _ = failed
            # the worker flushes its answers in bursts: the suspect is run alone before it is blamed
            if sum(len(run) for _, run in pending) > 1:
                failed = self._batch(expressions, items, [(item_index, [index])], answers, False)
            if failed is not None:  # it failed alone: its expression is to blame, wherever it is pending
                self._block(expressions[index], failed[1])
                for n, run in pending:
                    for i in run:
                        if i == index and (n, i) not in answers:
                            answers[(n, i)] = Result(error=failed[1], bounded=True)
            pending = _left(items, pending, answers)
        return [[answers[(item_index, i)] for i in item.run] for item_index, item in enumerate(items)]

    def _block(self, expression: str, why: str) -> None:
        self.blocked[expression] = why
        while len(self.blocked) > MAX_BLOCKED:
            self.blocked.popitem(last=False)
        log.warning("CEL expression refused", reason=why, expression=expression[:200])

    def _batch(
        self,
        expressions: list[str],
        items: list[_Encoded],
        pending: list[tuple[int, list[int]]],
        answers: dict[tuple[int, int], Result],
        combine: bool,
    ) -> tuple[tuple[int, int], str] | None:
        """Send `pending` to the worker and record its answers. On a timeout or a crash, the worker is
        killed and the first evaluation without an answer is returned with why."""
        head = {"expressions": expressions, "declared": self.declared, "combine": combine}
        request = b"".join(
            (
                json.dumps(head).encode()[:-1],
                b',"items":[',
                b",".join(b'{"vars":%s,"run":%s}' % (items[n].encoded, json.dumps(run).encode()) for n, run in pending),
                b"]}\n",
            )
        )
        expected = [(item_index, i) for item_index, run in pending for i in run]
        try:
            proc = self._worker()
            assert proc.stdin is not None
            proc.stdin.write(request)
            proc.stdin.flush()
        except OSError as exc:
            self._kill()
            return expected[0], f"the evaluator could not run: {exc}"
        done = 0
        with selectors.DefaultSelector() as selector:
            assert proc.stdout is not None
            selector.register(proc.stdout.fileno(), selectors.EVENT_READ)
            while True:
                lines = self._lines(proc, selector, self.step_timeout)
                if lines is None:
                    alive = proc.poll() is None
                    self._kill()
                    if alive:
                        return expected[done], f"exceeded its time bound ({self.step_timeout:g}s)"
                    return expected[done], "exceeded its memory bound (the evaluator stopped)"
                for answer in json.loads(b"[" + b",".join(lines) + b"]"):  # one parse per burst
                    if answer == ["done"]:
                        return None
                    position, index, kind, value = answer
                    key = (pending[position][0], index)
                    answers[key] = _result(kind, value)
                    done += 1

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._buffer = b""
        env = {"PYTHONPATH": _PACKAGE_ROOT, "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gitward.controller.celworker", str(self.memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout.fileno(), selectors.EVENT_READ)
            if self._lines(self._proc, selector, START_TIMEOUT) != [b'["ready"]']:
                self._kill()
                raise OSError("the CEL worker did not start")
        return self._proc

    def _lines(
        self, proc: subprocess.Popen[bytes], selector: selectors.BaseSelector, timeout: float
    ) -> list[bytes] | None:
        """The next complete lines from the worker, or None when none comes within `timeout`, the worker
        ended, or it sends a line longer than MAX_LINE."""
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or len(self._buffer) > MAX_LINE or not selector.select(left):
                return None
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        complete, _, self._buffer = self._buffer.rpartition(b"\n")
        return complete.split(b"\n")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        self._buffer = b""
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


_TRUE, _FALSE = Result(value=True), Result(value=False)


def _result(kind: str, value: Any) -> Result:
    if kind != "ok":
        return Result(error=str(value), compile_error=kind == "compile")
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    return Result(error=f"must evaluate to a bool (got {'null' if value is None else value})")


def _left(
    items: list[_Encoded], pending: list[tuple[int, list[int]]], answers: dict[tuple[int, int], Result]
) -> list[tuple[int, list[int]]]:
    """`pending` without what has an answer now."""
    left = [(n, [i for i in run if (n, i) not in answers]) for n, run in pending]
    return [(n, run) for n, run in left if run]
