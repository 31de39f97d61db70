"""Executors for sync tasks: a ``concurrent.futures.Executor`` (a process pool), a Dask
``distributed.Client`` or a scheduler address, named in ``AstrumConfig(executors={...})``."""
