"""The vocabulary of a run's lifecycle: the run context, events, hooks, the event bus and the
live event stream.

The engine speaks this vocabulary, so it sits below `astrum.core`: it may import
`astrum._errors` only.
"""
