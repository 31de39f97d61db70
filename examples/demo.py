"""``make demo``: an order-fulfilment workflow, drawn, planned, run and reported.

Nine tasks with simulated latencies. Two of them are ordinary blocking
functions (``time.sleep`` standing in for PDF rendering and a label printer);
astrum runs synchronous tasks in worker threads, so they do not hold up the
async tasks. One carrier API call fails once and recovers through ``retry=2``.

    receive_order ─┬─ screen_fraud ── capture_payment ── render_invoice* ─┐
                   ├─ reserve_stock ── pack_parcel* ─┐                     ├─ email_customer
                   └─ quote_shipping (retry=2) ──────┴── book_courier ─────┘
                                                           (* = sync, blocking)

With rich installed (``pip install "astrum[viz]"``) it prints the DAG with its
data transport, the stage view, and the run report with a timeline and the
critical path; without rich it prints a plain summary.
"""

import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from typing import TypedDict

from astrum import AstrumConfig, ExecutionReport, F, Ref, build_scheduler, clear_registry, task, use_namespace

NAMESPACE = "order_fulfilment"
INSTALL_HINT = 'pip install "astrum[viz]"'


class Order(TypedDict):
    """An order as the web shop hands it over."""

    order_id: str
    email: str
    country: str
    skus: dict[str, int]
    total_cents: int


@dataclass(frozen=True)
class ShippingQuote:
    """The carrier's offer for one parcel."""

    carrier: str
    service: str
    price_cents: int


class CarrierUnavailableError(ConnectionError):
    """The carrier's quoting API did not answer."""


@dataclass
class FlakyCarrier:
    """A carrier API that answers 503 to its first call, then quotes normally."""

    calls: int = 0

    async def quote(self, country: str, parcels: int) -> ShippingQuote:
        self.calls += 1
        await asyncio.sleep(0.08)
        if self.calls == 1:
            raise CarrierUnavailableError("carrier API answered 503 Service Unavailable")
        return ShippingQuote(
            "PostNL", "next-day", 495 + 150 * (parcels - 1) + (0 if country == "NL" else 700)
        )


def register_fulfilment(carrier: FlakyCarrier) -> None:
    """Register the nine fulfilment tasks into the ``order_fulfilment`` namespace."""
    with use_namespace(NAMESPACE):

        @task("receive_order")
        async def receive_order() -> Order:
            await asyncio.sleep(0.05)
            return {
                "order_id": "SO-20931",
                "email": "ada@example.org",
                "country": "NL",
                "skus": {"KB-75-ISO": 1, "CABLE-USB-C": 2},
                "total_cents": 18_970,
            }

        @task("screen_fraud")
        async def screen_fraud(
            email: Ref[str, F("receive_order", "email")],
            total_cents: Ref[int, F("receive_order", "total_cents")],
        ) -> dict:
            await asyncio.sleep(0.30)  # a third-party risk API
            return {"verdict": "accept", "score": 0.07 if total_cents < 50_000 else 0.4, "checked": email}

        @task("reserve_stock")
        async def reserve_stock(skus: Ref[dict, F("receive_order", "skus")]) -> dict:
            await asyncio.sleep(0.20)  # warehouse system round trip
            return {
                "reservation": "RSV-5512",
                "bins": {sku: f"A-{n:02d}" for n, sku in enumerate(sorted(skus), 1)},
            }

        @task("quote_shipping", retry=2)
        async def quote_shipping(
            country: Ref[str, F("receive_order", "country")],
            skus: Ref[dict, F("receive_order", "skus")],
        ) -> ShippingQuote:
            return await carrier.quote(country, parcels=1 if sum(skus.values()) <= 3 else 2)

        @task("capture_payment")
        async def capture_payment(
            verdict: Ref[str, F("screen_fraud", "verdict")],
            total_cents: Ref[int, F("receive_order", "total_cents")],
        ) -> dict:
            if verdict != "accept":
                raise PermissionError(f"fraud screening said {verdict!r}")
            await asyncio.sleep(0.15)  # payment provider
            return {"payment_id": "PAY-88310", "captured_cents": total_cents}

        @task("pack_parcel")
        def pack_parcel(bins: Ref[dict, F("reserve_stock", "bins")]) -> dict:
            time.sleep(0.25)  # blocking: a label printer driver
            return {
                "parcel_id": "PCL-301",
                "picked_from": sorted(bins.values()),
                "thread": threading.current_thread().name,
            }

        @task("render_invoice")
        def render_invoice(
            order_id: Ref[str, F("receive_order", "order_id")],
            payment_id: Ref[str, F("capture_payment", "payment_id")],
            captured_cents: Ref[int, F("capture_payment", "captured_cents")],
        ) -> dict:
            time.sleep(0.20)  # blocking: PDF rendering
            return {
                "invoice": f"INV-{order_id[3:]}.pdf",
                "payment_id": payment_id,
                "amount": captured_cents / 100,
            }

        @task("book_courier")
        async def book_courier(
            quote: Ref[ShippingQuote, F("quote_shipping")],
            parcel_id: Ref[str, F("pack_parcel", "parcel_id")],
        ) -> dict:
            await asyncio.sleep(0.10)
            return {"tracking": f"3S{quote.carrier.upper()}{parcel_id[-3:]}", "service": quote.service}

        @task("email_customer")
        async def email_customer(
            email: Ref[str, F("receive_order", "email")],
            invoice: Ref[str, F("render_invoice", "invoice")],
            tracking: Ref[str, F("book_courier", "tracking")],
        ) -> str:
            await asyncio.sleep(0.05)
            return f"to {email}: invoice {invoice}, track your parcel with {tracking}"


def rich_available() -> bool:
    """Whether the optional ``rich`` dependency can be imported."""
    try:
        import rich.console  # noqa: F401
    except ImportError:
        return False
    return True


def check(report: ExecutionReport, carrier: FlakyCarrier) -> None:
    """The outcome the demo promises (raises ``AssertionError`` otherwise)."""
    assert report.execution_state == "completed", report.error_summary
    assert report.successful_tasks == report.total_tasks == 9
    stats = {s.task_name: s for s in report.task_statistics}
    assert stats["quote_shipping"].attempt_count == 2
    assert carrier.calls == 2
    assert report.results["pack_parcel"]["thread"] != threading.main_thread().name
    assert report.results["email_customer"].endswith("track your parcel with 3SPOSTNL301")


def parallelism_line(report: ExecutionReport) -> str:
    """Makespan against the sum of task durations."""
    busy = sum(s.duration for s in report.task_statistics)
    makespan = report.total_duration
    saved = busy - makespan
    return (
        f"Makespan {makespan:.2f} s for {busy:.2f} s of task time: running independent tasks side by side "
        f"saved {saved:.2f} s ({saved / busy:.0%})."
    )


def plain_summary(report: ExecutionReport) -> None:
    """The report without rich: one line per task, the critical path, the totals."""
    origin = report.total_start_time
    print(f"\nRun: {report.execution_state}, {report.successful_tasks}/{report.total_tasks} tasks completed")
    for stat in sorted(report.task_statistics, key=lambda s: s.start_time):
        print(
            f"  {stat.task_name:<16} {stat.status:<10} start {(stat.start_time - origin) * 1000:6.1f} ms"
            f"  duration {stat.duration * 1000:6.1f} ms  attempts {stat.attempt_count}"
        )
    for line in report.error_summary:
        print(f"  note: {line}")
    print(f"Critical path: {' -> '.join(report.critical_path)}")


async def main() -> int:
    """Build, show, run and report the workflow; return the process exit code."""
    has_rich = rich_available()
    if not has_rich:
        print(f"rich is not installed: {INSTALL_HINT} for the DAG tree, stage table and timeline.")
        print("Running with a plain summary instead.\n")
    carrier = FlakyCarrier()
    register_fulfilment(carrier)
    try:
        config = AstrumConfig(silence=True, silence_warnings=True, visualize=has_rich)
        print("Build: order_fulfilment (9 tasks)")
        scheduler = build_scheduler(namespace=NAMESPACE, config=config)
        plan = scheduler.get_execute_timeline()
        note = "The stage view groups tasks by depth; at run time each task starts as soon as its own inputs are ready."
        if has_rich:
            from rich.console import Console

            from astrum.viz import print_plan, print_report

            console = Console()
            print_plan(plan, console)
            console.print(note)
            report = await scheduler.execute()
            print_report(report, console)
        else:
            print(plan.get_visualization_table())
            print(note)
            report = await scheduler.execute()
            plain_summary(report)
    finally:
        clear_registry(NAMESPACE)
    print(parallelism_line(report))
    try:
        check(report, carrier)
    except AssertionError as exc:
        print(f"demo: unexpected outcome: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
