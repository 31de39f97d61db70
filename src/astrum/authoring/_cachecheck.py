"""``@task(cache=...)`` at build: the task's policy, and inputs whose type can have no stable key.

A cached task's key is made from its injected inputs (see ``astrum.store._cachekey``). When a
``Ref`` type says the value is an open file, a lock, a socket, an asyncio object, an
iterator, generator or coroutine, a function, or a client of a well-known library, no value
of it can be keyed: the build refuses it, naming the task and the parameter. A task with
``Cache(key=...)`` chooses its own key and is not checked. Types the build cannot judge are
checked at run time, value by value.
"""

from __future__ import annotations

import asyncio
import collections.abc as abc
import concurrent.futures
import io
import socket
import sys
import threading
import types
import typing
from typing import TYPE_CHECKING, Any, Final

from ..core._policies import TaskPolicy

if TYPE_CHECKING:
    from ._prepare import Prepared
    from ._tasks import RegisteredTask

__all__ = ["cache_problems", "cached_policy", "unkeyable"]

_KINDS: Final[tuple[tuple[tuple[type, ...], str], ...]] = (
    ((io.IOBase, typing.IO), "an open file or stream"),
    ((socket.socket,), "a socket"),
    (
        (
            type(threading.Lock()),
            type(threading.RLock()),
            threading.Condition,
            threading.Semaphore,
            threading.Event,
            threading.Barrier,
            threading.Thread,
        ),
        "a lock or thread",
    ),
    (
        (
            asyncio.Future,
            asyncio.Lock,
            asyncio.Event,
            asyncio.Condition,
            asyncio.Semaphore,
            asyncio.Queue,
            asyncio.AbstractEventLoop,
            asyncio.StreamReader,
            asyncio.StreamWriter,
        ),
        "an asyncio object",
    ),
    ((concurrent.futures.Future, concurrent.futures.Executor), "a future or an executor"),
    ((types.GeneratorType, types.AsyncGeneratorType, types.CoroutineType), "a generator or coroutine"),
)
_EXACT: Final[dict[Any, str]] = {
    abc.Iterator: "an iterator",
    abc.AsyncIterator: "an iterator",
    abc.Generator: "a generator",
    abc.AsyncGenerator: "a generator",
    abc.Coroutine: "a coroutine",
    abc.Callable: "a function",
    threading.Lock: "a lock or thread",  # a factory function before Python 3.13
    threading.RLock: "a lock or thread",
}
#: Libraries whose clients, sessions, connections and pools hold sockets or threads.
_CLIENT_LIBRARIES: Final = frozenset(
    {
        "aioboto3", "aiohttp", "anthropic", "asyncpg", "boto3", "botocore", "elasticsearch", "grpc",
        "httpx", "kafka", "motor", "openai", "paramiko", "psycopg", "psycopg2", "pymongo", "pymysql",
        "redis", "requests", "sqlalchemy", "sqlite3", "urllib3", "websockets",
    }
)  # fmt: skip
_CLIENT_NAMES: Final = ("Client", "Session", "Connection", "Engine", "Pool", "Cursor", "Channel")


def cached_policy(record: RegisteredTask) -> TaskPolicy:
    """The policy of a task with ``cache=``: its retries, timeout and isolation, inside its cache."""
    from ..store._cached import CachedTask  # the store modules load with the first cached task

    assert record.cache is not None
    return TaskPolicy(
        retry=record.retry_policy,
        timeout=record.timeout,
        isolation=record.isolation,
        cache=CachedTask(record.task_id, record.cache),
    )


def unkeyable(tp: Any, depth: int = 0) -> str | None:
    """What kind of unkeyable value type ``tp`` describes (``None``: it may be keyable)."""
    if depth > 8 or tp is None or tp is Any:
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return unkeyable(typing.get_args(tp)[0], depth + 1)
    if origin is typing.Union or origin is types.UnionType:
        for arm in typing.get_args(tp):
            found = unkeyable(arm, depth + 1)
            if found is not None:
                return found
        return None
    target = origin if origin is not None else tp
    try:
        exact = _EXACT.get(target)
    except TypeError:  # an unhashable annotation object
        return None
    if exact is not None:
        return exact
    if not isinstance(target, type):
        return None
    for kinds, what in _KINDS:
        if issubclass(target, kinds):
            return what
    module = getattr(target, "__module__", "") or ""
    if module.partition(".")[0] in _CLIENT_LIBRARIES and target.__name__.endswith(_CLIENT_NAMES):
        return "a client or connection"
    return None


def _name(tp: Any) -> str:
    if isinstance(tp, type):
        module = tp.__module__
        if module == "builtins":
            return tp.__qualname__
        public = sys.modules.get(module.lstrip("_"))  # _io.TextIOWrapper is io.TextIOWrapper
        if module.startswith("_") and getattr(public, tp.__qualname__, None) is tp:
            module = module.lstrip("_")
        return f"{module}.{tp.__qualname__}"
    return repr(tp).replace("typing.", "")


def cache_problems(prep: Prepared) -> list[str]:
    """The inputs of a cached task (without ``key=``) whose ``Ref`` type cannot be keyed."""
    record = prep.record
    cache = record.cache
    if cache is None or cache.key is not None:
        return []
    out: list[str] = []
    for ref in prep.spec.inputs:
        what = unkeyable(ref.expected)
        if what is not None:
            out.append(
                f"Task '{record.task_id}' is cached, but its input '{ref.param}' is typed {_name(ref.expected)}, "
                f"{what}, which has no stable form for a cache key. Give the task a key function that picks "
                f"what identifies the input, Cache(key=lambda {ref.param}, **_: ...), or inject a serialisable "
                "value (JSON data, a dataclass, a pydantic model) instead."
            )
    return out
