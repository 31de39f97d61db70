"""OpenTelemetry spans for runs, tasks and attempts (the ``astrum[otel]`` extra).

``AstrumConfig(hooks=[OpenTelemetryHook()])`` traces every run. This package imports
``opentelemetry-api``; ``import astrum`` never imports it. It sits just above
`astrum.lifecycle`: it may import the lifecycle and `astrum._errors` only.
"""

try:
    from ._hook import OpenTelemetryHook
except ImportError as exc:  # pragma: no cover - depends on what is installed
    if exc.name is None or not exc.name.startswith("opentelemetry"):
        raise
    raise ImportError(
        "astrum.otel needs the OpenTelemetry API: pip install 'astrum[otel]' (or opentelemetry-api)",
        name=exc.name,
    ) from exc

__all__ = ["OpenTelemetryHook"]
