"""Terminal rendering with rich (install ``astrum[viz]``): plans, builds and reports.

The public door ``astrum.viz`` and its renderers. May import :mod:`astrum.report`,
:mod:`astrum.core`, :mod:`astrum.lifecycle` and :mod:`astrum._errors` (builds are only
named in type hints).
"""

from ._render import print_build as print_build
from ._render import print_plan as print_plan
from ._render import print_report as print_report

__all__ = ["print_build", "print_plan", "print_report"]
