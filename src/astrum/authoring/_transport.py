"""Annotation-driven data transport: ``Ref``, ``F``/``From``, ``T``/``To`` and their parsing.

A parameter annotated ``Ref[X, F("task", "field")]`` receives ``field`` of
``task``'s result; ``-> Ref[X, T("target", "local", "param")]`` pushes part of
a task's result into another task's parameter. Annotations are parsed once per
function (`parse_callable`) into a `CallableSpec`; problems are
collected as messages instead of stopping at the first.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import FunctionType
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from ..core._typenames import NO_ANNOTATION as NO_ANNOTATION
from ..lifecycle._context import RunContext, is_context_annotation

if TYPE_CHECKING:
    from ._tasks import RegisteredTask

__all__ = [
    "NO_ANNOTATION",
    "CallableSpec",
    "F",
    "From",
    "InputRef",
    "ParamInfo",
    "Ref",
    "ReturnPush",
    "T",
    "TaskNames",
    "To",
    "parse_callable",
    "reference_name",
    "underlying_function",
    "unknown_callable_problem",
]

#: ``Ref[X, F(...)]`` is ``typing.Annotated[X, F(...)]``.
Ref = Annotated

TaskRef = Any  # a task id (str) or the registered callable
Locator = str | int | None


@dataclass(frozen=True)
class From:
    """Where a parameter's value comes from: ``task``'s result, narrowed by ``locator``.

    ``locator`` is a dict key or attribute name (str), an index (int), or
    ``None`` for the whole result. ``task`` is a task id or the registered callable.
    """

    task: TaskRef
    locator: Locator = None


@dataclass(frozen=True)
class To:
    """Where part of a task's result goes: ``local`` of the result into ``target``'s parameter.

    ``local``: key/attribute (str), index (int) or ``None`` (whole result).
    ``target``: the receiving parameter's name (str), its position (int), or
    ``None`` for the first parameter.
    """

    task: TaskRef
    local: Locator = None
    target: Locator = None


F = From
T = To


_ANNOTATED_ALIAS = type(Annotated[int, "x"])
_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
_VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
_VARIADIC = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


class ParamInfo(NamedTuple):
    """One parameter of a task callable (receiver excluded)."""

    name: str
    kind: inspect._ParameterKind
    has_default: bool
    annotation: Any


class InputRef(NamedTuple):
    """A parameter fed by ``F(source, locator)``; ``expected`` is ``X`` of ``Ref[X, ...]``."""

    param: str
    source: TaskRef
    locator: Locator
    expected: Any


class ReturnPush(NamedTuple):
    """``-> Ref[X, T(target, local, target_param)]``: part of the result feeds another task."""

    target: TaskRef
    local: Locator
    target_param: Locator
    expected: Any


class CallableSpec(NamedTuple):
    """What astrum needs to know about a task callable, parsed once."""

    params: tuple[ParamInfo, ...]
    inputs: tuple[InputRef, ...]
    pushes: tuple[ReturnPush, ...]
    returns: Any
    problems: tuple[str, ...]
    context_params: tuple[str, ...] = ()
    #: Parameters whose relation annotation could not be resolved (already in ``problems``).
    unresolved: tuple[str, ...] = ()


def underlying_function(obj: Any) -> Any:
    """The plain function behind a static/class method, bound method or ``functools.partial``."""
    seen = 0
    while seen < 16:
        seen += 1
        if isinstance(obj, staticmethod | classmethod) or inspect.ismethod(obj):
            obj = obj.__func__
        elif isinstance(obj, functools.partial):
            obj = obj.func
        else:
            return obj
    return obj


def reference_name(obj: Any) -> str:
    """How messages name a callable task reference: its qualified name below any enclosing function."""
    name = getattr(underlying_function(obj), "__qualname__", None)
    if not isinstance(name, str):
        return repr(obj)
    return name.rpartition("<locals>.")[2]


def unknown_callable_problem(name: str, kind: str, task: str) -> str:
    """The message for a callable relation source or target that is no registered task."""
    return (
        f"Unknown callable task reference '{name}' in {kind} relation at task '{task}'. "
        "Register the function as a task, or refer to the task by its id."
    )


class _TaskPath:
    """``Flow`` in a string annotation ``F(Flow.load)``: registered callables under a qualified-name prefix."""

    __slots__ = ("_clashes", "_members", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        self._members: dict[str, Any] = {}
        self._clashes: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"<registered tasks under {self._path!r}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # Read the slots without coming back here (a copy made without __init__ has none).
        path = object.__getattribute__(self, "_path")
        clash = object.__getattribute__(self, "_clashes").get(name)
        if clash is not None:
            raise AttributeError(
                f"tasks {clash} are different callables named '{path}.{name}'; refer to one by its task id"
            )
        try:
            return object.__getattribute__(self, "_members")[name]
        except KeyError:
            raise AttributeError(f"no registered task is named '{path}.{name}'") from None

    def child(self, name: str) -> _TaskPath | None:
        member = self._members.get(name)
        if member is None:
            member = self._members[name] = _TaskPath(f"{self._path}.{name}")
        return member if isinstance(member, _TaskPath) else None

    def add(self, name: str, task_id: str, obj: Any, ids: dict[str, list[str]]) -> None:
        """``obj`` (task ``task_id``) is ``<path>.name``; two different callables there clash."""
        known = self._members.get(name)
        if known is None:
            self._members[name] = obj
            ids[f"{self._path}.{name}"] = [task_id]
        elif not isinstance(known, _TaskPath) and underlying_function(known) is not underlying_function(obj):
            owners = ids[f"{self._path}.{name}"]
            owners.append(task_id)
            self._clashes[name] = owners


class TaskNames(Mapping[str, Any]):
    """Names the string annotations of a build's tasks may use besides their closure and globals.

    A task function's name is the registered callable; a task id is the id itself
    (function names win). `path_roots` adds the qualified-name paths of the
    callables (``Flow.load``, ``Flow.load_static``, ``Flow.load_class`` for methods of a
    class ``Flow`` defined inside a function), used for names the globals do not define.
    Built on first use: most builds evaluate no string.
    """

    def __init__(self, tasks: Mapping[str, RegisteredTask]) -> None:
        self._tasks = tasks
        self._names: dict[str, Any] | None = None
        self._roots: dict[str, _TaskPath] | None = None

    def _load(self) -> dict[str, Any]:
        if self._names is None:
            names: dict[str, Any] = {}
            for record in self._tasks.values():
                fn_name = getattr(underlying_function(record.function), "__name__", None)
                if isinstance(fn_name, str):
                    names.setdefault(fn_name, record.function)
            for tid in self._tasks:
                names.setdefault(tid, tid)
            self._names = names
        return self._names

    def path_roots(self) -> dict[str, _TaskPath]:
        """``{"Flow": <Flow's registered callables>}`` for every dotted qualified name of a task callable."""
        if self._roots is None:
            roots: dict[str, _TaskPath] = {}
            ids: dict[str, list[str]] = {}
            for tid, record in self._tasks.items():
                qualname = getattr(underlying_function(record.function), "__qualname__", None)
                if not isinstance(qualname, str):
                    continue
                *prefix, last = qualname.rpartition("<locals>.")[2].split(".")
                if not prefix:
                    continue
                node: _TaskPath | None = roots.get(prefix[0])
                if node is None:
                    node = roots[prefix[0]] = _TaskPath(prefix[0])
                for part in prefix[1:]:
                    node = node.child(part) if node is not None else None
                if node is not None:
                    node.add(last, tid, record.function, ids)
            self._roots = roots
        return self._roots

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


class _AfterGlobals(Mapping[str, Any]):
    """Qualified-name path roots, for names neither the globals nor the builtins define.

    ``eval`` reads its locals before its globals; declining the names the globals
    define keeps a module-level class (``Ref[Flow, ...]``) the class itself.
    """

    def __init__(self, roots: Mapping[str, Any], globalns: Mapping[str, Any]) -> None:
        self._roots = roots
        self._globals = globalns

    def __getitem__(self, key: str) -> Any:
        if key in self._globals or key in _BUILTINS:
            raise KeyError(key)
        return self._roots[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._roots)

    def __len__(self) -> int:
        return len(self._roots)


_BUILTINS = vars(builtins)


def _follows_wrapped(func: Any) -> bool:
    """``func`` carries ``__wrapped__`` (``functools.wraps``) or ``__signature__``, as ``inspect.signature`` reads."""
    attrs = getattr(func, "__dict__", None)
    return isinstance(attrs, dict) and ("__wrapped__" in attrs or "__signature__" in attrs)


def _annotated_function(func: Any) -> Any:
    """The function whose annotations ``inspect.signature`` reports for ``func`` (decorators unwrapped)."""
    if not _follows_wrapped(func):
        return func
    try:
        return inspect.unwrap(func, stop=lambda f: hasattr(f, "__signature__"))
    except ValueError:  # a __wrapped__ cycle
        return func


def _eval_namespace(fn: Any, extra: Mapping[str, Any]) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """Globals of ``fn``'s module, and its closure variables backed by ``extra`` (no copies).

    For a decorated function (``functools.wraps``), those of the function it wraps.
    """
    func = _annotated_function(underlying_function(fn))
    if not inspect.isfunction(func):
        func = getattr(type(func), "__call__", func)  # noqa: B004 - annotations live on __call__
    globalns = getattr(func, "__globals__", None)
    if globalns is None:
        module = inspect.getmodule(func)
        globalns = vars(module) if module else {"__builtins__": builtins}
    closure_vars: dict[str, Any] = {}
    code = getattr(func, "__code__", None)
    closure = getattr(func, "__closure__", None)
    if code is not None and closure:
        for name, cell in zip(code.co_freevars, closure, strict=False):
            try:
                closure_vars[name] = cell.cell_contents
            except ValueError:
                pass
    if isinstance(extra, TaskNames):
        roots = extra.path_roots()
        if roots:
            return globalns, ChainMap(closure_vars, extra, _AfterGlobals(roots, globalns))  # type: ignore[arg-type]
    return globalns, ChainMap(closure_vars, extra)  # type: ignore[arg-type]


def _resolve(annotation: Any, namespaces: Callable[[], tuple[dict[str, Any], Mapping[str, Any]]]) -> Any:
    if isinstance(annotation, str):
        globalns, localns = namespaces()
        return eval(annotation, globalns, localns)  # annotations are code the user wrote
    return annotation


class _Undefined:
    """An undefined name in a string annotation, evaluated to find out where it was used."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _undefined_source(
    text: str, error: Exception, namespaces: Callable[[], tuple[dict[str, Any], Mapping[str, Any]]]
) -> str | None:
    """The name in ``F(name, ...)`` / ``T(name, ...)`` of ``text`` when it is the only undefined name.

    ``error`` is what evaluating ``text`` raised; ``None`` when it is not a
    ``NameError`` of a relation's task.
    """
    name = getattr(error, "name", None) if isinstance(error, NameError) else None
    if not isinstance(name, str):
        return None
    globalns, localns = namespaces()
    undefined = _Undefined(name)
    try:
        value = eval(text, globalns, ChainMap({name: undefined}, localns))  # type: ignore[arg-type]  # as _resolve
    except Exception:
        return None  # another undefined name, or the name is also used elsewhere (e.g. as a type)
    _base, meta = _relation_meta(value)
    if len(meta) != 1:
        return None
    item = meta[0]
    task = item[0] if isinstance(item, tuple) and item else getattr(item, "task", None)
    return name if task is undefined else None


def _signature_params(fn: Any) -> list[ParamInfo]:
    func = fn
    if inspect.isfunction(func) and not _follows_wrapped(func):
        code = func.__code__
        posonly = code.co_posonlyargcount
        argcount = code.co_argcount
        kwonly = code.co_kwonlyargcount
        names = code.co_varnames
        defaults = func.__defaults__ or ()
        kwdefaults = func.__kwdefaults__ or {}
        annotations = func.__annotations__
        first_default = argcount - len(defaults)
        params: list[ParamInfo] = []
        for k in range(argcount):
            kind = _POSITIONAL_ONLY if k < posonly else _POSITIONAL_OR_KEYWORD
            name = names[k]
            params.append(ParamInfo(name, kind, k >= first_default, annotations.get(name, NO_ANNOTATION)))
        index = argcount
        if code.co_flags & inspect.CO_VARARGS:
            name = names[argcount + kwonly]
            params.append(ParamInfo(name, _VAR_POSITIONAL, True, annotations.get(name, NO_ANNOTATION)))
        for k in range(index, index + kwonly):
            name = names[k]
            params.append(
                ParamInfo(
                    name,
                    _KEYWORD_ONLY,
                    name in kwdefaults,
                    annotations.get(name, NO_ANNOTATION),
                )
            )
        if code.co_flags & inspect.CO_VARKEYWORDS:
            name = names[argcount + kwonly + (1 if code.co_flags & inspect.CO_VARARGS else 0)]
            params.append(ParamInfo(name, _VAR_KEYWORD, True, annotations.get(name, NO_ANNOTATION)))
        return params
    signature = inspect.signature(func)
    return [
        ParamInfo(
            p.name,
            p.kind,
            p.default is not inspect.Parameter.empty,
            NO_ANNOTATION if p.annotation is inspect.Parameter.empty else p.annotation,
        )
        for p in signature.parameters.values()
    ]


def _return_annotation(fn: Any) -> Any:
    if inspect.isfunction(fn) and not _follows_wrapped(fn):
        return fn.__annotations__.get("return", NO_ANNOTATION)
    try:
        ann = inspect.signature(fn).return_annotation
    except (TypeError, ValueError):
        return NO_ANNOTATION
    return NO_ANNOTATION if ann is inspect.Signature.empty else ann


def _relation_meta(annotation: Any) -> tuple[Any, list[Any]]:
    """Split ``Annotated[X, *meta]`` into ``X`` and its relation metadata (From/To/tuples)."""
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is None or type(annotation) is not _ANNOTATED_ALIAS:
        return annotation, []
    base: Any = getattr(annotation, "__origin__", annotation)
    return base, [m for m in metadata if isinstance(m, From | To | tuple)]


def parse_plain(fn: Any) -> CallableSpec | None:
    """The common case, fast: a plain function with named parameters, evaluated annotations,
    at most one ``F(...)`` per parameter and a return type without ``T(...)``. ``None``: use the full parser.
    """
    code = fn.__code__
    if code.co_flags & _VARIADIC or code.co_posonlyargcount:
        return None
    attrs = fn.__dict__
    if attrs and ("__wrapped__" in attrs or "__signature__" in attrs):
        return None  # a decorator's wrapper: its signature is the wrapped function's
    annotations = fn.__annotations__
    returns = annotations.get("return", NO_ANNOTATION)
    if type(returns) is str or type(returns) is _ANNOTATED_ALIAS:  # a string to evaluate, or T(...) pushes
        return None
    argcount = code.co_argcount
    count = argcount + code.co_kwonlyargcount
    if not count:
        return CallableSpec((), (), (), returns, ())
    names = code.co_varnames
    defaults = fn.__defaults__
    kwdefaults = fn.__kwdefaults__
    first_default = argcount - (len(defaults) if defaults else 0)
    params: list[ParamInfo] = []
    inputs: list[InputRef] = []
    for k in range(count):
        name = names[k]
        annotation = annotations.get(name, NO_ANNOTATION)
        kind = type(annotation)
        if kind is _ANNOTATED_ALIAS:
            meta = annotation.__metadata__
            if len(meta) != 1 or type(meta[0]) is not From:
                return None
            base = annotation.__origin__
            relation = meta[0]
            locator = relation.locator
            if base is RunContext or not (locator is None or type(locator) is str or type(locator) is int):
                return None
            inputs.append(InputRef(name, relation.task, locator, base))
        elif kind is str or (annotation is not NO_ANNOTATION and is_context_annotation(annotation)):
            return None
        if k < argcount:
            params.append(ParamInfo(name, _POSITIONAL_OR_KEYWORD, k >= first_default, annotation))
        else:
            has_default = kwdefaults is not None and name in kwdefaults
            params.append(ParamInfo(name, _KEYWORD_ONLY, has_default, annotation))
    return CallableSpec(tuple(params), tuple(inputs), (), returns, ())


def parse_callable(
    task_id: str, fn: Any, names: Mapping[str, Any], *, skip_first: bool = False
) -> CallableSpec:
    """Parse a task callable's parameters and relation annotations.

    Args:
        task_id: the task's id (for messages).
        fn: the callable that will be invoked (a plain function, partial, callable object...).
        names: extra names string annotations may use (task function names).
        skip_first: drop the first parameter (the receiver of a method task).
    """
    if type(fn) is FunctionType and not skip_first:
        spec = parse_plain(fn)
        if spec is not None:
            return spec
    return _parse_full(task_id, fn, names, skip_first=skip_first)


def _parse_full(task_id: str, fn: Any, names: Mapping[str, Any], *, skip_first: bool) -> CallableSpec:
    """`parse_callable` for every kind of callable and annotation."""
    problems: list[str] = []
    cache: list[tuple[dict[str, Any], Mapping[str, Any]]] = []

    def namespaces() -> tuple[dict[str, Any], Mapping[str, Any]]:
        if not cache:
            cache.append(_eval_namespace(fn, names))
        return cache[0]

    try:
        raw_params = _signature_params(fn)
    except (TypeError, ValueError):
        # Some builtins expose no signature: they take no injected values and are called as they are.
        return CallableSpec((), (), (), NO_ANNOTATION, ())
    if (
        skip_first
        and raw_params
        and raw_params[0].kind
        in (
            _POSITIONAL_ONLY,
            _POSITIONAL_OR_KEYWORD,
        )
    ):
        raw_params = raw_params[1:]
    params: list[ParamInfo] = []
    inputs: list[InputRef] = []
    context_params: list[str] = []
    unresolved: list[str] = []
    for p in raw_params:
        annotation = p.annotation
        if annotation is not NO_ANNOTATION and is_context_annotation(annotation):
            context_params.append(p.name)
            params.append(p)
            continue
        if annotation is not NO_ANNOTATION:
            try:
                annotation = _resolve(annotation, namespaces)
            except Exception as exc:
                raw = p.annotation
                missing = _undefined_source(raw, exc, namespaces) if isinstance(raw, str) else None
                if missing is not None:
                    unresolved.append(p.name)
                    problems.append(unknown_callable_problem(missing, f"input parameter '{p.name}'", task_id))
                elif isinstance(raw, str) and ("F(" in raw or "From(" in raw):
                    unresolved.append(p.name)
                    hint = (
                        " String annotations (from __future__ import annotations) see the function's "
                        "closure, task function names, task ids, module globals and the qualified names "
                        "of task methods (Flow.load); use one of those or set the annotation object directly."
                        if isinstance(exc, NameError)
                        else ""
                    )
                    problems.append(
                        f"Task '{task_id}' parameter '{p.name}': cannot resolve annotation "
                        f"{raw!r}: {type(exc).__name__}: {exc}.{hint}"
                    )
                annotation = NO_ANNOTATION
        params.append(
            p if annotation is p.annotation else ParamInfo(p.name, p.kind, p.has_default, annotation)
        )
        base, meta = _relation_meta(annotation)
        if not meta:
            continue
        if len(meta) > 1:
            problems.append(f"Annotated relation metadata is ambiguous: {annotation!r} (task '{task_id}')")
            continue
        item = meta[0]
        if isinstance(item, To):
            problems.append(
                f"To(...) metadata is only valid on return annotations (task '{task_id}' parameter '{p.name}'); "
                "use F(...) to read an upstream value."
            )
            continue
        if isinstance(item, tuple):
            if not 1 <= len(item) <= 2:
                problems.append(
                    f"Invalid input relation at task '{task_id}' parameter '{p.name}': "
                    "expected (source_task_id, locator?)"
                )
                continue
            item = From(*item)
        if item.locator is not None and (
            isinstance(item.locator, bool) or not isinstance(item.locator, str | int)
        ):
            problems.append(
                f"Invalid relation locator at task '{task_id}' field '{p.name}': expected str, int, or None"
            )
            continue
        inputs.append(InputRef(p.name, item.task, item.locator, base))

    returns: Any = NO_ANNOTATION
    pushes: list[ReturnPush] = []
    raw_return = _return_annotation(fn)
    if raw_return is not NO_ANNOTATION:
        try:
            resolved = _resolve(raw_return, namespaces)
        except Exception as exc:
            text = str(raw_return)
            missing = _undefined_source(raw_return, exc, namespaces) if isinstance(raw_return, str) else None
            if missing is not None:
                problems.append(unknown_callable_problem(missing, "return", task_id))
            elif "T(" in text or "To(" in text:
                problems.append(
                    f"Task '{task_id}': cannot resolve return annotation {raw_return!r}: {type(exc).__name__}: {exc}"
                )
            resolved = NO_ANNOTATION
        base, meta = _relation_meta(resolved)
        returns = base
        for item in meta:
            if isinstance(item, From):
                problems.append(
                    f"From(...) metadata is only valid on parameter annotations (task '{task_id}' return); "
                    "use T(...) to push a value downstream."
                )
                continue
            if isinstance(item, tuple):
                if not 1 <= len(item) <= 3:
                    problems.append(
                        f"Invalid return relation at task '{task_id}': "
                        "expected (target_task_id, local_locator?, target_locator?)"
                    )
                    continue
                item = To(*item)
            bad = [v for v in (item.local, item.target) if v is not None and not isinstance(v, str | int)]
            if bad:
                problems.append(
                    f"Invalid relation locator at task '{task_id}' field 'return': expected str, int, or None"
                )
                continue
            pushes.append(ReturnPush(item.task, item.local, item.target, base))
    return CallableSpec(
        tuple(params),
        tuple(inputs),
        tuple(pushes),
        returns,
        tuple(problems),
        tuple(context_params),
        tuple(unresolved),
    )
