"""What a recorded run says about its graph: each task's shape (code fingerprint, inputs,
dependencies), the graph's fingerprint and the config summary, worked out once per compiled
program (`graph_facts`); and the fingerprint of a task's code (`source_fingerprint`), which
resume and the result cache compare.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Any

from ._base import TaskShape

if TYPE_CHECKING:
    from ..core._program import Program

__all__ = ["GraphFacts", "graph_facts", "source_fingerprint"]


# -- what is recorded about the graph ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraphFacts:
    """What a store records about a compiled program: per-task shapes, their hash, the config."""

    shapes: Mapping[str, TaskShape]
    fingerprint: str
    config: Mapping[str, Any]


def graph_facts(program: Program) -> GraphFacts:
    """The `GraphFacts` of ``program``, worked out on first use and kept on the program."""
    facts = program.store_facts
    if facts is None:
        facts = program.store_facts = _graph_facts(program)
    assert isinstance(facts, GraphFacts)
    return facts


def _graph_facts(program: Program) -> GraphFacts:
    graph = program.graph
    names = graph.names
    by_function: dict[int, str] = {}  # tasks often share a function
    shapes: dict[str, TaskShape] = {}
    for i, name in enumerate(names):
        fn = program.fns[i]
        fingerprint = by_function.get(id(fn))
        if fingerprint is None:
            fingerprint = by_function[id(fn)] = source_fingerprint(fn)
        parents = graph.parents[i]
        shapes[name] = TaskShape(
            fingerprint,
            _inputs(program.binders[i]),
            tuple(sorted(names[p] for p in parents)) if parents else (),
        )
    canonical = json.dumps(
        [
            [name, s.fingerprint, [list(x) for x in s.inputs], list(s.depends_on)]
            for name, s in shapes.items()
        ],
        separators=(",", ":"),
    )
    return GraphFacts(shapes, _digest(canonical), _config_summary(program))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _inputs(binder: Any) -> tuple[tuple[str, str, str], ...]:
    """``(parameter, source task, locator repr)`` of each input a task's binder injects."""
    if binder is None:
        return ()
    inputs = getattr(binder, "inputs", None)
    if inputs is None:  # one whole result as one keyword (the common binder)
        param = getattr(binder, "param", None)
        source = getattr(binder, "source", None)
        return ((str(param), str(source), "None"),) if param is not None else ()
    out: list[tuple[str, str, str]] = []
    for inp in inputs:
        if inp.use_function:
            out.append((str(inp.target), "", _provider(inp.from_function)))
        else:
            out.append((str(inp.target), inp.source or "", repr(inp.locator)))
    return tuple(sorted(out))


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _provider(value: Any) -> str:
    """A ``from_function`` provider as stable text (no memory addresses)."""
    if callable(value):
        return f"from_function {getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"
    try:
        text = repr(value)
    except Exception:
        text = type(value).__name__
    return "constant " + _ADDRESS.sub("", text)[:200]


def _config_summary(program: Program) -> dict[str, Any]:
    names = program.graph.names
    summary: dict[str, Any] = {
        "concurrency_limit": program.concurrency_limit,
        "failure_policy": program.failure_policy,
        "deadline": program.deadline,
        "pools": {
            name: limit
            for name, limit in zip(program.pool_names, program.pool_limits, strict=True)
            if limit != math.inf  # a pool with a rate only has no concurrency limit
        },
        "ignore_tail_task": [names[i] for i in sorted(program.tails)],
    }
    if program.pool_rates is not None:
        summary["rates"] = {
            name: rate.text for name, rate in zip(program.pool_names, program.pool_rates, strict=True) if rate
        }
    policies = {names[i]: _policy_summary(p) for i, p in enumerate(program.policies) if p is not None}
    if policies:
        summary["policies"] = policies
    return summary


def _policy_summary(policy: Any) -> dict[str, Any]:
    """A task's retries, timeout and isolation; a mapped task's are its instances', with ``map``."""
    spec = policy.fanout
    if spec is None:
        return {"retries": policy.retries, "timeout": policy.timeout, "isolation": policy.isolation}
    instance = spec.instance
    summary: dict[str, Any] = {"retries": 0, "timeout": None, "isolation": "thread"}
    if instance is not None:
        summary = _policy_summary(instance)
    summary["map"] = list(spec.params)
    summary["max_parallel"] = spec.max_parallel
    return summary


# -- the fingerprint of a task's code ------------------------------------------------------

_BY_CODE: weakref.WeakKeyDictionary[CodeType, str] = weakref.WeakKeyDictionary()


def source_fingerprint(fn: Any) -> str:
    """A short hash of the source of the code ``fn`` runs (``""`` for ``None``).

    Bound methods, ``functools.partial`` objects and decorated functions (``__wrapped__``)
    are looked through; a callable object stands for its class's ``__call__``. The source
    text is hashed, so moving a function or upgrading Python changes nothing; code whose
    source cannot be read is hashed from its bytecode; a builtin, from its qualified name.
    """
    if fn is None:
        return ""
    return _digest("\n".join(_code_parts(fn, 0)))


def _code_parts(fn: Any, depth: int) -> list[str]:
    target = fn
    for _ in range(32):
        if isinstance(target, functools.partial):
            target = target.func
        elif isinstance(target, staticmethod | classmethod) or inspect.ismethod(target):
            target = target.__func__
        else:
            break
    code = getattr(target, "__code__", None)
    if not isinstance(code, CodeType) and not isinstance(target, type):
        code = getattr(getattr(type(target), "__call__", None), "__code__", None)  # noqa: B004
    if isinstance(code, CodeType):
        parts = [_code_fingerprint(code)]
    else:
        parts = [
            f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"
        ]
    wrapped = getattr(target, "__wrapped__", None)
    if wrapped is not None and wrapped is not target and depth < 8:
        parts.extend(_code_parts(wrapped, depth + 1))
    return parts


def _code_fingerprint(code: CodeType) -> str:
    known = _BY_CODE.get(code)
    if known is None:
        try:
            known = "source " + _digest(inspect.getsource(code))
        except Exception:  # no source file (exec, the REPL): the bytecode, without line numbers
            known = "code " + _digest(_code_text(code))
        _BY_CODE[code] = known
    return known


def _code_text(code: CodeType) -> str:
    consts = [_code_text(c) if isinstance(c, CodeType) else _ADDRESS.sub("", repr(c)) for c in code.co_consts]
    return f"{code.co_name}|{code.co_code.hex()}|{consts}|{code.co_names}|{code.co_varnames}"
