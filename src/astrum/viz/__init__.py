"""Renderers: rich terminal views of plans, builds and reports (install ``astrum[viz]``), the
Mermaid graph and Gantt, the "why was it slow" analysis and the self-contained HTML run page.

The public door ``astrum.viz`` and its renderers. Sits below `astrum.report` so that a
report's methods can call it: at run time it may import only `astrum.core`,
`astrum.lifecycle` and `astrum._errors`; reports and builds are read by attribute
and named only in type hints.
"""

from ._progress import ProgressHook as ProgressHook
from ._render import print_build as print_build
from ._render import print_plan as print_plan
from ._render import print_report as print_report

__all__ = ["ProgressHook", "print_build", "print_plan", "print_report"]
