"""Plain functions: what a registry keeps of them when they are registered.

Most registries hold module-level functions whose inputs are ``Ref[X, F("task id")]``
annotations. Everything a build needs from such a task can be worked out when it is
registered (`plain_entry`), by the rules every build follows: its inputs and
dependencies (``_sources.py``), that its signature takes them (``_checks.py``), how it is
called, its return type. The one-pass build (``_onepass.py``) compiles a registry of these
entries; anything else, and every problem, is left to the general build (``_build.py``).
"""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core._program import callable_kind
from ._checks import signature_problems
from ._inject import Input
from ._methods import owner_path
from ._sources import ref_input, ref_inputs, task_dependencies
from ._transport import CallableSpec

if TYPE_CHECKING:
    from ._tasks import RegisteredTask

__all__ = ["PlainEntry", "SpecEntry", "analysable", "plain_entry"]

_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_new: Any = tuple.__new__


class SpecEntry(NamedTuple):
    """A parsed task callable (valid while ``record`` is the registered one)."""

    record: RegisteredTask
    #: The first parameter is a method's receiver (not injected).
    skip_first: bool
    spec: CallableSpec
    #: Analysed at registration: a plain call of ``record.function``.
    plain: bool


class PlainEntry(NamedTuple):
    """A plain function that builds compile as it is.

    Made at registration, only what a build reads is kept (a registry of a million
    tasks keeps a million of these) and the general build parses the function again
    when it needs the rest. Made by a build (string annotations), ``spec`` keeps the
    parsed annotations, which are costly to evaluate again.
    """

    record: RegisteredTask
    kind: int
    #: What the task waits for: ``depends_on``, then its sources (`task_dependencies`).
    deps: tuple[str, ...]
    #: The only ``Ref`` input (the common case, kept without a tuple around it), or ``None``.
    only: Input | None
    #: The ``Ref`` inputs when there is not exactly one. Every source is a task id.
    several: tuple[Input, ...]
    returns: Any
    spec: CallableSpec | None = None

    @property
    def inputs(self) -> tuple[Input, ...]:
        """The ``Ref`` inputs in parameter order."""
        return (self.only,) if self.only is not None else self.several


def analysable(record: RegisteredTask) -> bool:
    """A function outside any class body, registered without ``TaskData``: nothing a build is
    given (class instances, explicit data items) changes how it is called or what it receives."""
    fn = record.function
    return type(fn) is FunctionType and record.data is None and owner_path(fn) is None


def plain_entry(
    record: RegisteredTask, spec: CallableSpec, *, keep_spec: bool = False
) -> SpecEntry | PlainEntry:
    """What a registry keeps of a plain function (a plain call of ``record.function``) parsed as ``spec``.

    A `PlainEntry` unless a ``Ref`` names its source by callable (resolved against
    the whole registry), a parameter is positional-only or variadic, the signature does not
    take its inputs (the general build reports it), the return pushes values (``T(...)``), a
    parameter takes the ``RunContext``, or the task uses an override, process isolation, a
    pool, an executor, a cache or ``TaskData`` (checked or resolved per build).
    """
    if (
        spec.pushes
        or spec.context_params
        or record.data is not None
        or record.implementation is not None
        or record.isolation == "process"
        or record.pool is not None
        or record.executor is not None
        or record.map is not None
        or record.cache is not None
    ):
        return SpecEntry(record, False, spec, True)
    params = spec.params
    for param in params:
        if param.kind is not _POSITIONAL_OR_KEYWORD and param.kind is not _KEYWORD_ONLY:
            return SpecEntry(record, False, spec, True)  # positional-only or variadic: the general build's
    refs = spec.inputs
    for ref in refs:
        if type(ref.source) is not str:
            return SpecEntry(record, False, spec, True)
    # Inputs come from parameters, in order: when every parameter has one, the signature fits.
    if len(refs) != len(params) and signature_problems(record.task_id, params, ref_inputs(refs)):
        return SpecEntry(record, False, spec, True)
    only: Input | None = None
    several: tuple[Input, ...] = ()
    if len(refs) == 1:
        only = ref_input(refs[0], refs[0].source)
    elif refs:
        several = ref_inputs(refs)
    deps = task_dependencies(record.depends_on, refs)
    kind = callable_kind(record.function)
    # PlainEntry(...) without the argument handling of its __new__: one per registered task.
    entry = (record, kind, deps, only, several, spec.returns, spec if keep_spec else None)
    return _new(PlainEntry, entry)  # type: ignore[no-any-return]
