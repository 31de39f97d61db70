"""The ``astrum`` command line: run a registry with its run recorded, list and show runs,
resume a run, prune old runs (``astrum --help``).

The top layer: may import every other part of astrum.
"""

from ._main import main as main

__all__ = ["main"]
