"""A Dask cluster as a task executor: a ``distributed.Client``, or a scheduler address."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from ._base import Submit, dumps, outcome_of, run_payload

__all__ = ["close_address_clients", "dask_submit", "is_dask_client"]

_clients: dict[str, Any] = {}  # one client per scheduler address, made at its first job
_clients_lock = threading.Lock()


def is_dask_client(value: Any) -> bool:
    """``value`` is a ``distributed.Client`` (without importing distributed when unused)."""
    return any(
        cls.__name__ == "Client" and cls.__module__.startswith("distributed") for cls in type(value).__mro__
    )


def _client_for(address: str) -> Any:
    with _clients_lock:
        client = _clients.get(address)
        if client is None:
            from distributed import Client

            client = _clients[address] = Client(address)  # type: ignore[no-untyped-call]
        return client


def close_address_clients() -> None:
    """Close the clients made for scheduler addresses (before their cluster goes away)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def dask_submit(target: Any) -> Submit:
    """The submit callable of a ``distributed.Client`` or of a scheduler address (whose client
    is made, in a worker thread, at its first job and kept for the process)."""
    client: Any = None if isinstance(target, str) else target

    async def submit(
        fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], stop_after: float | None
    ) -> Any:
        nonlocal client
        loop = asyncio.get_running_loop()
        if client is None:
            client = await loop.run_in_executor(None, _client_for, target)
        future = client.submit(run_payload, dumps((fn, args, kwargs, stop_after, None)), pure=False)
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def finished(_: Any) -> None:  # on the client's thread
            loop.call_soon_threadsafe(settle)

        try:
            future.add_done_callback(finished)
            await done
            # raises what the cluster raised: KilledWorker when a worker died running it
            data = await loop.run_in_executor(None, future.result)
        except asyncio.CancelledError:
            future.cancel()  # the cluster releases the job (a running one's result is dropped)
            raise
        future.release()  # an error's traceback keeps this frame: it must not keep the key too
        return outcome_of(data)

    return submit
