"""The vocabulary of a run's lifecycle: the run context, events, hooks, the event bus and the
live event stream.

The engine speaks this vocabulary, so it sits below :mod:`astrum.core`: it may import
:mod:`astrum._errors` only.
"""
