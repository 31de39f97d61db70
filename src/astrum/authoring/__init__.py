"""Authoring: registries and namespaces, ``Ref``/``F``/``T`` parsing, type checks, binders,
explicit task data, configuration, the manual ``DynamicScheduler``, and the build that turns
registered tasks into a program.

May import every layer below it: `astrum.report`, `astrum.viz`,
`astrum.core`, `astrum.lifecycle`, `astrum._errors`.
"""
