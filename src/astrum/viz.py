"""Terminal rendering with rich (install ``astrum[viz]``): plans, builds and reports."""

from ._viz import print_build as print_build
from ._viz import print_plan as print_plan
from ._viz import print_report as print_report

__all__ = ["print_build", "print_plan", "print_report"]
