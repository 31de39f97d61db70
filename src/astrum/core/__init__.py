"""The scheduling core: graph, compiled program, run engine, attempts and policies, worker
threads and processes, and the clock.

Knows nothing of decorators, annotations or pydantic. May import `astrum.lifecycle`
and `astrum._errors`; never anything above them.
"""
