"""The CEL worker process: compiles and evaluates CEL expressions for `gitward.controller.celeval`.

Run as `python -m gitward.controller.celworker <memory-bytes>` by the evaluator, never by hand. The
expressions come from Policies and Application specs (hostile): the CEL library runs native code
that holds the interpreter lock and offers no cost limit, so it runs here, in a process of its own
with a capped address space, where the parent can kill it when an evaluation takes too long.

Protocol, one JSON document per line: `["ready"]` once the library is loaded; then per request on stdin
    {"expressions": [str, ...], "items": [{"vars": {...}, "run": [expression index, ...]}, ...]}
Answers on stdout, one line per evaluation, in order:
    [item index, expression index, "ok" | "compile" | "error", value or message]
then `["done"]` after the last one. Answers are flushed every FLUSH_SECONDS at least, so that the
parent knows roughly which evaluation was running when it gives up on one (it confirms alone).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

MAX_MESSAGE = 300
FLUSH_SECONDS = 0.01


def _limit_memory(limit: int) -> None:
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        text = f"no such key: {exc.args[0] if exc.args else ''}"
    else:
        text = str(exc).split("\n", 1)[0] or type(exc).__name__
    return text[:MAX_MESSAGE]


def _plain(value: Any) -> Any:
    """A JSON-safe rendering of a result (only booleans count; anything else is reported by type)."""
    if isinstance(value, bool) or value is None:
        return value
    return f"<{type(value).__name__}>"


def main() -> int:
    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    import cel  # after the memory cap: the library and everything it allocates stay under it

    sys.stdout.write('["ready"]\n')
    sys.stdout.flush()

    programs: dict[str, Any] = {}
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        expressions: list[str] = request["expressions"]
        flushed = time.monotonic()
        for item_index, item in enumerate(request["items"]):
            context: Any = None
            answer: list[Any] | None
            for index in item["run"]:
                expression = expressions[index]
                program = programs.get(expression)
                if program is None:
                    try:
                        program = cel.compile(expression)
                    except Exception as exc:
                        program = _message(exc)
                    if len(programs) > 10_000:
                        programs.clear()
                    programs[expression] = program
                if isinstance(program, str):
                    answer = [item_index, index, "compile", program]
                else:
                    try:
                        if context is None:
                            context = cel.Context(variables=item["vars"])
                        value = program.execute(context)
                    except Exception as exc:
                        answer = [item_index, index, "error", _message(exc)]
                    else:
                        if isinstance(value, bool):  # the usual answer, written without json
                            out.write(f'[{item_index},{index},"ok",{"true" if value else "false"}]\n')
                            answer = None
                        else:
                            answer = [item_index, index, "ok", _plain(value)]
                if answer is not None:
                    out.write(json.dumps(answer) + "\n")
                if time.monotonic() - flushed > FLUSH_SECONDS:
                    out.flush()
                    flushed = time.monotonic()
        out.write('["done"]\n')
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
