"""The CEL worker process: compiles and evaluates CEL expressions for `gitward.controller.celeval`.

Run as `python -m gitward.controller.celworker <memory-bytes>` by the evaluator, never by hand. The
expressions come from Policies and Application specs (hostile): the CEL library (cel-expr-python,
the CEL project's bindings of cel-cpp) runs native code that holds the interpreter lock and offers
no cost limit, so it runs here, in a process of its own with a capped address space, where the
parent can kill it when an evaluation takes too long.

Protocol, one JSON document per line: `["ready"]` once the library is loaded; then per request on stdin
    {"expressions": [str, ...], "declared": [name, ...] | null, "combine": bool,
     "items": [{"vars": {...}, "run": [expression index, ...]}, ...]}
`declared` names the variables (all dynamically typed) the expressions are type-checked against, so
that a misspelt variable is a compile error; null compiles without the check (an unknown variable
is then an error of the evaluation: health checks read whatever top-level fields an object has).
With `combine`, the expressions an item runs are evaluated as one list (one pass over its
variables); when that list fails as a whole, each is evaluated alone to say which one failed.
Answers on stdout, one line per evaluation, in order:
    [item index, expression index, "ok" | "compile" | "error", value or message]
then `["done"]` after the last one. Answers are flushed every FLUSH_SECONDS at least, so that the
parent knows roughly which evaluation was running when it gives up on one (it confirms alone).
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from typing import Any

MAX_MESSAGE = 300
FLUSH_SECONDS = 0.01
MAX_PROGRAMS = 10_000

_STATUS = re.compile(r"^[A-Z_]+: (?:ERROR: )?")
_CODE = re.compile(r" \[[A-Z_]+\]$| \(in container ''\)")
_MISSING = re.compile(r'^(?:Key not found in map : |No value with name )"?(.*?)"?(?: found in Activation)?$')


def _limit_memory(limit: int) -> None:
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def message(text: str) -> str:
    """The library's message on one line, without its status code; a missing key or variable as
    "no such key: <name>" (what the health checks read as "not there yet")."""
    first = _CODE.sub("", _STATUS.sub("", text.strip().split("\n", 1)[0])).replace("<input>:", "at ", 1)
    missing = _MISSING.match(first)
    if missing:
        first = f"no such key: {missing.group(1)}"
    return first[:MAX_MESSAGE] or "failed without a message"


def _plain(value: Any) -> Any:
    """A JSON-safe rendering of a result (only booleans count; anything else is reported by type)."""
    if isinstance(value, bool) or value is None:
        return value
    return f"<{type(value).__name__}>"


class Programs:
    """Compiled programs per (declared variables, expression), and the CEL environments they need."""

    def __init__(self, cel: Any, extensions: list[Any]) -> None:
        self.cel = cel
        self.extensions = extensions
        self.error_type = cel.Type.ERROR
        self._envs: dict[tuple[str, ...] | None, Any] = {}
        self._programs: dict[tuple[tuple[str, ...] | None, str], Any] = {}

    def get(self, declared: tuple[str, ...] | None, expression: str) -> Any:
        """The compiled program, or the compiler's message (a str)."""
        key = (declared, expression)
        program = self._programs.get(key)
        if program is None:
            env = self._envs.get(declared)
            if env is None:
                variables = {name: self.cel.Type.DYN for name in declared or ()}
                env = self._envs[declared] = self.cel.NewEnv(variables=variables, extensions=self.extensions)
            try:
                program = env.compile(expression, disable_check=declared is None)
            except Exception as exc:
                program = message(str(exc))
            if len(self._programs) >= MAX_PROGRAMS:
                self._programs.clear()
            self._programs[key] = program
        return program

    def together(self, program: Any, data: dict[str, Any], runnable: tuple[int, ...]) -> dict[int, Any]:
        """The values of a combined program by expression index; empty when it failed as a whole."""
        try:
            together = program.eval(data=data)
        except Exception:
            return {}
        if together.type() == self.error_type:
            return {}
        return dict(zip(runnable, together.value(), strict=True))

    def answer(self, value: Any) -> tuple[str, Any]:
        """("ok", result) or ("error", message) for a value the library returned (or its message)."""
        if isinstance(value, str):
            return "error", value
        plain = value.value()
        if plain is True or plain is False:
            return "ok", plain
        if value.type() == self.error_type:
            return "error", message(str(plain))
        return "ok", _plain(plain)


def _evaluate(programs: Programs, request: dict[str, Any], out: Any) -> None:
    expressions: list[str] = request["expressions"]
    declared = tuple(request["declared"]) if request.get("declared") is not None else None
    combine = bool(request.get("combine"))
    compiled = [programs.get(declared, e) for e in expressions]
    combined: dict[tuple[int, ...], Any] = {}
    flushed = time.monotonic()
    for item_index, item in enumerate(request["items"]):
        run: list[int] = item["run"]
        runnable = tuple(i for i in run if not isinstance(compiled[i], str))
        values: dict[int, Any] = {}
        if runnable:
            data = item["vars"]
            if combine and len(runnable) > 1:
                program = combined.get(runnable)
                if program is None:
                    listed = "[" + ", ".join(f"({expressions[i]})" for i in runnable) + "]"
                    program = combined[runnable] = programs.get(declared, listed)
                if not isinstance(program, str):
                    values = programs.together(program, data, runnable)
            for index in runnable:
                if index not in values:
                    try:
                        values[index] = compiled[index].eval(data=data)
                    except Exception as exc:  # a value the library cannot take: an error of this evaluation
                        values[index] = message(str(exc))
        for index in run:
            program = compiled[index]
            if isinstance(program, str):
                out.write(json.dumps([item_index, index, "compile", program]) + "\n")
                continue
            kind, value = programs.answer(values[index])
            if value is True or value is False:  # the usual answer, written without json
                out.write(f'[{item_index},{index},"ok",{"true" if value else "false"}]\n')
            else:
                out.write(json.dumps([item_index, index, kind, value]) + "\n")
        if time.monotonic() - flushed > FLUSH_SECONDS:
            out.flush()
            flushed = time.monotonic()


def main() -> int:
    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    # after the memory cap: the library and everything it allocates stay under it
    from cel_expr_python import cel
    from cel_expr_python.ext import ext_encoders, ext_math, ext_optional, ext_strings

    extensions = [ext_strings.ExtStrings(), ext_optional.ExtOptional(), ext_math.ExtMath(), ext_encoders.ExtEncoders()]
    programs = Programs(cel, extensions)
    sys.stdout.write('["ready"]\n')
    sys.stdout.flush()
    for line in sys.stdin:
        _evaluate(programs, json.loads(line), sys.stdout)
        sys.stdout.write('["done"]\n')
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
