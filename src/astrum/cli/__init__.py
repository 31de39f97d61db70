"""The ``astrum`` command line: run a registry with its run recorded, list and show runs,
resume a run, prune old runs (``astrum --help``; the console script calls ``_main.main``).

The top layer: may import every other part of astrum.
"""
