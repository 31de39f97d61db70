"""The order-fulfilment workflow of ``make demo``, as an app the ``astrum`` command line can run.

Nine tasks with simulated latencies. Two of them are ordinary blocking
functions (``time.sleep`` standing in for PDF rendering and a label printer);
astrum runs synchronous tasks in worker threads, so they do not hold up the
async tasks. One carrier API call fails once and recovers through ``retry=2``.

    receive_order ─┬─ screen_fraud ── capture_payment ── render_invoice* ─┐
                   ├─ reserve_stock ── pack_parcel* ─┐                     ├─ email_customer
                   └─ quote_shipping (retry=2) ──────┴── book_courier ─────┘
                                                           (* = sync, blocking)

The tasks are registered in the module-level ``registry`` when the module is imported, so
``astrum run examples/fulfilment.py:registry`` runs them, and ``astrum resume RUN_ID --app
examples/fulfilment.py:registry`` resumes a recorded run (from the project root).
"""

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import TypedDict

from astrum import F, Ref, SchedulerRegistry

NAMESPACE = "order_fulfilment"


class Order(TypedDict):
    """An order as the web shop hands it over."""

    order_id: str
    email: str
    country: str
    skus: dict[str, int]
    total_cents: int


@dataclass(frozen=True)
class ShippingQuote:
    """The carrier's offer for one parcel (stored and resumed as this dataclass)."""

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


carrier = FlakyCarrier()
registry = SchedulerRegistry(NAMESPACE)


@registry.task("receive_order")
async def receive_order() -> Order:
    await asyncio.sleep(0.05)
    return {
        "order_id": "SO-20931",
        "email": "ada@example.org",
        "country": "NL",
        "skus": {"KB-75-ISO": 1, "CABLE-USB-C": 2},
        "total_cents": 18_970,
    }


@registry.task("screen_fraud")
async def screen_fraud(
    email: Ref[str, F("receive_order", "email")],
    total_cents: Ref[int, F("receive_order", "total_cents")],
) -> dict:
    await asyncio.sleep(0.30)  # a third-party risk API
    return {"verdict": "accept", "score": 0.07 if total_cents < 50_000 else 0.4, "checked": email}


@registry.task("reserve_stock")
async def reserve_stock(skus: Ref[dict, F("receive_order", "skus")]) -> dict:
    await asyncio.sleep(0.20)  # warehouse system round trip
    return {
        "reservation": "RSV-5512",
        "bins": {sku: f"A-{n:02d}" for n, sku in enumerate(sorted(skus), 1)},
    }


@registry.task("quote_shipping", retry=2)
async def quote_shipping(
    country: Ref[str, F("receive_order", "country")],
    skus: Ref[dict, F("receive_order", "skus")],
) -> ShippingQuote:
    return await carrier.quote(country, parcels=1 if sum(skus.values()) <= 3 else 2)


@registry.task("capture_payment")
async def capture_payment(
    verdict: Ref[str, F("screen_fraud", "verdict")],
    total_cents: Ref[int, F("receive_order", "total_cents")],
) -> dict:
    if verdict != "accept":
        raise PermissionError(f"fraud screening said {verdict!r}")
    await asyncio.sleep(0.15)  # payment provider
    return {"payment_id": "PAY-88310", "captured_cents": total_cents}


@registry.task("pack_parcel")
def pack_parcel(bins: Ref[dict, F("reserve_stock", "bins")]) -> dict:
    time.sleep(0.25)  # blocking: a label printer driver
    return {
        "parcel_id": "PCL-301",
        "picked_from": sorted(bins.values()),
        "thread": threading.current_thread().name,
    }


@registry.task("render_invoice")
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


@registry.task("book_courier")
async def book_courier(
    quote: Ref[ShippingQuote, F("quote_shipping")],
    parcel_id: Ref[str, F("pack_parcel", "parcel_id")],
) -> dict:
    await asyncio.sleep(0.10)
    return {"tracking": f"3S{quote.carrier.upper()}{parcel_id[-3:]}", "service": quote.service}


@registry.task("email_customer")
async def email_customer(
    email: Ref[str, F("receive_order", "email")],
    invoice: Ref[str, F("render_invoice", "invoice")],
    tracking: Ref[str, F("book_courier", "tracking")],
) -> str:
    await asyncio.sleep(0.05)
    return f"to {email}: invoice {invoice}, track your parcel with {tracking}"
