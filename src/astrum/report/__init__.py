"""Reports: the execution report and its statistics, the report made from a finished run,
and the stage view (execution plans).

May import :mod:`astrum.viz` (a report's rendering methods delegate to it),
:mod:`astrum.core`, :mod:`astrum.lifecycle` and :mod:`astrum._errors`.
"""
