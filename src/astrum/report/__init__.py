"""Reports: the execution report and its statistics, the report made from a finished run,
and the stage view (execution plans).

May import `astrum.viz` (a report's rendering methods delegate to it),
`astrum.core`, `astrum.lifecycle` and `astrum._errors`.
"""
