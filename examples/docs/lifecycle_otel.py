import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from astrum import AstrumConfig, SchedulerRegistry
from astrum.otel import OpenTelemetryHook

exporter = InMemorySpanExporter()
provider = TracerProvider()  # usually the global one: OpenTelemetryHook() uses it by default
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("my app")

flow = SchedulerRegistry("traced_demo")


@flow.task()
async def fetch() -> int:
    with tracer.start_as_current_span("http GET"):  # nests under fetch's attempt span
        return 42


report = asyncio.run(flow.run(config=AstrumConfig(hooks=[OpenTelemetryHook(tracer_provider=provider)])))
names = [span.name for span in exporter.get_finished_spans()]
assert names == ["http GET", "fetch attempt 1", "fetch", "astrum run"], names
