"""A tour of six common DAG shapes, one namespace each.

1. serial dependency          (whole-result passing)
2. pure parallelism           (no dependency, no waiting)
3. fan-in                     (two inputs converge)
4. independent branch groups  (two sub-graphs advance on their own)
5. order checkout             (field-level ``Ref[..., F("task", "field")]``)
6. async risk review          (async tasks, ``retry=1``, side branches)

Every example registers its tasks inside a function, builds them with
``build_scheduler(namespace=..., config=...)``, executes the scheduler, checks
the results and the dependency map with ``assert``, and clears its namespace.

Run it::

    python examples/fast_start.py              # quiet
    python examples/fast_start.py --visualize  # also print each DAG (needs astrum[viz])
"""

import argparse
import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from astrum import AstrumConfig, ExecutionReport, F, Ref, build_scheduler, clear_registry, task

CONFIG = AstrumConfig(
    skip_type_check=True,
    silence=True,
    silence_warnings=True,
    visualize=False,
)

Example = Callable[[AstrumConfig], Awaitable[str]]


def dependency_map(report: ExecutionReport) -> dict[str, set[str]]:
    """The report's ``original_tasks`` as ``{task: {dependencies}}``."""
    return {name: set(deps) for name, deps in report.original_tasks.items()}


def span(report: ExecutionReport, name: str) -> tuple[float, float]:
    """``(start, end)`` epoch times of one task of the run."""
    for stat in report.task_statistics:
        if stat.task_name == name:
            return stat.start_time, stat.end_time
    raise KeyError(f"no statistics for task {name!r}")


async def execute(namespace: str, config: AstrumConfig) -> ExecutionReport:
    """Build the namespace's tasks, run them, and require a completed run."""
    scheduler = build_scheduler(namespace=namespace, config=config)
    report = await scheduler.execute()
    assert report.execution_state == "completed", report.error_summary
    assert report.successful_tasks == report.total_tasks
    return report


# --- 1. serial dependency -----------------------------------------------------------------


async def example_1(config: AstrumConfig) -> str:
    """``fetch_title -> slugify_title``: the second task receives the first one's whole result."""
    namespace = "example_1"

    @task("fetch_title", namespace=namespace)
    def fetch_title() -> str:
        return "  Event-Driven DAGs in Plain Python  "

    @task("slugify_title", namespace=namespace)
    def slugify_title(title: Ref[str, F("fetch_title")]) -> str:
        words = "".join(c if c.isalnum() else " " for c in title.lower()).split()
        return "-".join(words)

    try:
        report = await execute(namespace, config)
    finally:
        clear_registry(namespace)

    slug = report.results["slugify_title"]
    assert slug == "event-driven-dags-in-plain-python"
    # The data relation alone makes slugify_title wait for fetch_title.
    assert dependency_map(report) == {"fetch_title": set(), "slugify_title": {"fetch_title"}}
    assert span(report, "slugify_title")[0] >= span(report, "fetch_title")[1]
    return f"serial       fetch_title -> slugify_title = {slug!r}"


# --- 2. pure parallelism ------------------------------------------------------------------


async def example_2(config: AstrumConfig) -> str:
    """Two independent async health checks run at the same time."""
    namespace = "example_2"

    @task("ping_primary", namespace=namespace)
    async def ping_primary() -> dict:
        await asyncio.sleep(0.05)
        return {"host": "db-primary", "latency_ms": 3}

    @task("ping_replica", namespace=namespace)
    async def ping_replica() -> dict:
        await asyncio.sleep(0.05)
        return {"host": "db-replica", "latency_ms": 7}

    try:
        report = await execute(namespace, config)
    finally:
        clear_registry(namespace)

    assert report.results["ping_primary"]["host"] == "db-primary"
    assert report.results["ping_replica"]["latency_ms"] == 7
    assert dependency_map(report) == {"ping_primary": set(), "ping_replica": set()}
    primary, replica = span(report, "ping_primary"), span(report, "ping_replica")
    assert primary[0] < replica[1], "the two pings should overlap"
    assert replica[0] < primary[1], "the two pings should overlap"
    return (
        f"parallel     ping_primary | ping_replica overlapped, run took {report.total_duration * 1000:.0f} ms"
    )


# --- 3. fan-in ----------------------------------------------------------------------------


async def example_3(config: AstrumConfig) -> str:
    """Two lookups converge on one task that takes both values."""
    namespace = "example_3"

    @task("load_first_name", namespace=namespace)
    def load_first_name() -> str:
        return "Grace"

    @task("load_last_name", namespace=namespace)
    def load_last_name() -> str:
        return "Hopper"

    @task("format_badge", namespace=namespace)
    def format_badge(
        first: Ref[str, F("load_first_name")],
        last: Ref[str, F("load_last_name")],
    ) -> str:
        return f"{last.upper()}, {first}"

    try:
        report = await execute(namespace, config)
    finally:
        clear_registry(namespace)

    badge = report.results["format_badge"]
    assert badge == "HOPPER, Grace"
    assert dependency_map(report)["format_badge"] == {"load_first_name", "load_last_name"}
    return f"fan-in       load_first_name + load_last_name -> format_badge = {badge!r}"


# --- 4. independent branch groups ---------------------------------------------------------


async def example_4(config: AstrumConfig) -> str:
    """Two unrelated sub-graphs in one run: text statistics, and a release tag."""
    namespace = "example_4"
    notes = "Fixed retry accounting.\nFaster builds.\nNew stage view."

    @task("count_words", namespace=namespace)
    def count_words() -> int:
        return len(notes.split())

    @task("count_lines", namespace=namespace)
    def count_lines() -> int:
        return len(notes.splitlines())

    @task("summarise_notes", namespace=namespace)
    def summarise_notes(
        words: Ref[int, F("count_words")],
        lines: Ref[int, F("count_lines")],
    ) -> str:
        return f"{lines} entries, {words} words"

    @task("read_version", namespace=namespace)
    def read_version() -> tuple[int, int, int]:
        return (0, 2, 0)

    @task("tag_release", namespace=namespace)
    def tag_release(version: Ref[tuple, F("read_version")]) -> str:
        return "v" + ".".join(str(part) for part in version)

    try:
        report = await execute(namespace, config)
    finally:
        clear_registry(namespace)

    assert report.results["summarise_notes"] == "3 entries, 8 words"
    assert report.results["tag_release"] == "v0.2.0"
    assert dependency_map(report) == {
        "count_words": set(),
        "count_lines": set(),
        "summarise_notes": {"count_words", "count_lines"},
        "read_version": set(),
        "tag_release": {"read_version"},
    }
    return (
        f"branches     summarise_notes = {report.results['summarise_notes']!r}, "
        f"tag_release = {report.results['tag_release']!r}"
    )


# --- 5. order checkout: field-level data transport ----------------------------------------

CHECKOUT_DEPENDENCIES = {
    "load_order": set(),
    "load_inventory": set(),
    "load_pricing_rules": set(),
    "validate_cart": {"load_order", "load_inventory"},
    "compute_subtotal": {"load_order", "load_pricing_rules"},
    "apply_discount": {"compute_subtotal", "load_order", "load_pricing_rules"},
    "add_tax": {"apply_discount", "load_order", "load_pricing_rules"},
    "build_inventory_audit": {"validate_cart", "load_order"},
    "build_receipt": {"compute_subtotal", "apply_discount", "add_tax", "build_inventory_audit", "load_order"},
    "finalize_order": {"build_receipt", "build_inventory_audit"},
}


def register_checkout(namespace: str, shelf_stock: dict[str, int]) -> None:
    """Register the ten checkout tasks of a bookshop order into ``namespace``."""

    @task("load_order", namespace=namespace)
    def load_order() -> dict:
        return {
            "order_id": "BK-1042",
            "shopper": "shopper-77",
            "ship_to": "NL",
            "coupon": "READMORE10",
            "lines": [
                {"isbn": "978-0262033848", "quantity": 1},
                {"isbn": "978-1491950357", "quantity": 2},
            ],
        }

    @task("load_inventory", namespace=namespace)
    def load_inventory() -> dict:
        return {"on_shelf": dict(shelf_stock), "warehouse": "AMS-2"}

    @task("load_pricing_rules", namespace=namespace)
    def load_pricing_rules() -> dict:
        return {
            "unit_price_cents": {"978-0262033848": 8900, "978-1491950357": 3450},
            "coupons_percent": {"READMORE10": 10, "STUDENT25": 25},
            "vat_percent": {"NL": 9, "BE": 6},
        }

    @task("validate_cart", namespace=namespace)
    def validate_cart(
        lines: Ref[list, F("load_order", "lines")],
        on_shelf: Ref[dict, F("load_inventory", "on_shelf")],
    ) -> dict:
        short = [line["isbn"] for line in lines if on_shelf.get(line["isbn"], 0) < line["quantity"]]
        return {"ok": not short, "short_isbns": short}

    @task("compute_subtotal", namespace=namespace)
    def compute_subtotal(
        lines: Ref[list, F("load_order", "lines")],
        unit_prices: Ref[dict, F("load_pricing_rules", "unit_price_cents")],
    ) -> dict:
        subtotal = sum(unit_prices[line["isbn"]] * line["quantity"] for line in lines)
        return {"subtotal_cents": subtotal, "line_count": len(lines)}

    @task("apply_discount", namespace=namespace)
    def apply_discount(
        subtotal_cents: Ref[int, F("compute_subtotal", "subtotal_cents")],
        coupon: Ref[str, F("load_order", "coupon")],
        discounts: Ref[dict, F("load_pricing_rules", "coupons_percent")],
    ) -> dict:
        discount = subtotal_cents * discounts.get(coupon, 0) // 100
        return {"discount_cents": discount, "after_discount_cents": subtotal_cents - discount}

    @task("add_tax", namespace=namespace)
    def add_tax(
        taxable_cents: Ref[int, F("apply_discount", "after_discount_cents")],
        ship_to: Ref[str, F("load_order", "ship_to")],
        vat: Ref[dict, F("load_pricing_rules", "vat_percent")],
    ) -> dict:
        return {"vat_cents": taxable_cents * vat[ship_to] // 100, "vat_percent": vat[ship_to]}

    @task("build_inventory_audit", namespace=namespace)
    def build_inventory_audit(
        order_id: Ref[str, F("load_order", "order_id")],
        ok: Ref[bool, F("validate_cart", "ok")],
        short_isbns: Ref[list, F("validate_cart", "short_isbns")],
    ) -> dict:
        return {"audit_ref": f"AUD-{order_id}", "stock_ok": ok, "short": short_isbns}

    @task("build_receipt", namespace=namespace)
    def build_receipt(
        order_id: Ref[str, F("load_order", "order_id")],
        shopper: Ref[str, F("load_order", "shopper")],
        subtotal_cents: Ref[int, F("compute_subtotal", "subtotal_cents")],
        discount_cents: Ref[int, F("apply_discount", "discount_cents")],
        after_discount_cents: Ref[int, F("apply_discount", "after_discount_cents")],
        vat_cents: Ref[int, F("add_tax", "vat_cents")],
        stock_ok: Ref[bool, F("build_inventory_audit", "stock_ok")],
    ) -> dict:
        return {
            "receipt_no": f"R-{order_id}",
            "shopper": shopper,
            "subtotal_cents": subtotal_cents,
            "discount_cents": discount_cents,
            "vat_cents": vat_cents,
            "total_cents": after_discount_cents + vat_cents,
            "payable": stock_ok,
        }

    @task("finalize_order", namespace=namespace)
    def finalize_order(
        receipt: Ref[dict, F("build_receipt")],
        audit_ref: Ref[str, F("build_inventory_audit", "audit_ref")],
    ) -> dict:
        return {
            "receipt_no": receipt["receipt_no"],
            "audit_ref": audit_ref,
            "total_cents": receipt["total_cents"],
            "state": "awaiting_payment" if receipt["payable"] else "backordered",
        }


async def example_5(config: AstrumConfig) -> str:
    """A ten-task checkout where each parameter names the exact upstream field it needs."""
    namespace = "example_5"
    register_checkout(namespace, shelf_stock={"978-0262033848": 4, "978-1491950357": 2})
    try:
        report = await execute(namespace, config)
    finally:
        clear_registry(namespace)

    # 8900 + 2 x 3450 = 15800; 10 % off -> 1580 discount, 14220 left; 9 % VAT -> 1279.
    receipt = report.results["build_receipt"]
    assert (receipt["subtotal_cents"], receipt["discount_cents"], receipt["vat_cents"]) == (15800, 1580, 1279)
    assert report.results["finalize_order"] == {
        "receipt_no": "R-BK-1042",
        "audit_ref": "AUD-BK-1042",
        "total_cents": 15499,
        "state": "awaiting_payment",
    }
    assert report.total_tasks == 10
    assert dependency_map(report) == CHECKOUT_DEPENDENCIES

    # The same graph with a short shelf: the order is held, not failed.
    short_namespace = "example_5_backorder"
    register_checkout(short_namespace, shelf_stock={"978-0262033848": 4, "978-1491950357": 1})
    try:
        short = await execute(short_namespace, config)
    finally:
        clear_registry(short_namespace)
    assert short.results["validate_cart"] == {"ok": False, "short_isbns": ["978-1491950357"]}
    assert short.results["finalize_order"]["state"] == "backordered"

    total = report.results["finalize_order"]["total_cents"]
    return f"checkout     10 tasks, total {total / 100:.2f} EUR; short shelf -> backordered"


# --- 6. async risk review with a retry ----------------------------------------------------

RISK_DEPENDENCIES = {
    "fetch_profile": set(),
    "fetch_activity": set(),
    "fetch_payments": set(),
    "fetch_credit_score": {"fetch_profile"},
    "normalize_activity": {"fetch_activity"},
    "detect_payment_flags": {"fetch_payments"},
    "build_region_policy": {"fetch_profile"},
    "score_risk": {"fetch_credit_score", "normalize_activity", "detect_payment_flags", "build_region_policy"},
    "choose_action": {"score_risk", "build_region_policy"},
    "send_notification": {"choose_action", "fetch_profile"},
    "archive_decision": {"choose_action", "fetch_profile", "score_risk"},
    "final_summary": {
        "send_notification",
        "archive_decision",
        "choose_action",
        "score_risk",
        "fetch_credit_score",
    },
}


@dataclasses.dataclass
class BureauStub:
    """A credit bureau that times out on its first call, then answers."""

    calls: list[str] = dataclasses.field(default_factory=list)

    async def lookup(self, merchant_id: str) -> int:
        await asyncio.sleep(0.01)
        self.calls.append(merchant_id)
        if len(self.calls) == 1:
            raise TimeoutError(f"credit bureau did not answer for {merchant_id}")
        return 702


def register_risk_review(namespace: str, bureau: BureauStub) -> None:
    """Register the twelve tasks of a merchant risk review into ``namespace``."""

    @task("fetch_profile", namespace=namespace)
    async def fetch_profile() -> dict:
        await asyncio.sleep(0.02)
        return {
            "merchant_id": "m-5531",
            "country": "BR",
            "contact": "ops@cafe-aurora.example",
            "tier": "growth",
        }

    @task("fetch_activity", namespace=namespace)
    async def fetch_activity() -> dict:
        await asyncio.sleep(0.02)
        return {"password_resets_7d": 2, "countries_seen_7d": 3}

    @task("fetch_payments", namespace=namespace)
    async def fetch_payments() -> dict:
        await asyncio.sleep(0.02)
        return {"declines_30d": 4, "disputes_90d": 0, "volume_cents": 1_250_000}

    @task("fetch_credit_score", namespace=namespace, retry=1)
    async def fetch_credit_score(merchant_id: Ref[str, F("fetch_profile", "merchant_id")]) -> dict:
        return {"score": await bureau.lookup(merchant_id), "bureau": "stub"}

    @task("normalize_activity", namespace=namespace)
    async def normalize_activity(
        resets: Ref[int, F("fetch_activity", "password_resets_7d")],
        countries: Ref[int, F("fetch_activity", "countries_seen_7d")],
    ) -> dict:
        return {"activity_points": 5 * resets + 10 * max(0, countries - 1)}

    @task("detect_payment_flags", namespace=namespace)
    async def detect_payment_flags(
        declines: Ref[int, F("fetch_payments", "declines_30d")],
        disputes: Ref[int, F("fetch_payments", "disputes_90d")],
    ) -> dict:
        flags = [name for name, count in (("declines", declines), ("disputes", disputes)) if count > 2]
        return {"payment_points": 3 * declines + 30 * disputes, "flags": flags}

    @task("build_region_policy", namespace=namespace)
    async def build_region_policy(
        country: Ref[str, F("fetch_profile", "country")],
        tier: Ref[str, F("fetch_profile", "tier")],
    ) -> dict:
        return {
            "region_points": 10 if country in {"BR", "MX"} else 0,
            "hold_threshold": 70 if tier == "enterprise" else 50,
            "channel": "email" if tier == "growth" else "account-manager",
        }

    @task("score_risk", namespace=namespace)
    async def score_risk(
        credit_score: Ref[int, F("fetch_credit_score", "score")],
        activity_points: Ref[int, F("normalize_activity", "activity_points")],
        payment_points: Ref[int, F("detect_payment_flags", "payment_points")],
        region_points: Ref[int, F("build_region_policy", "region_points")],
    ) -> dict:
        credit_points = 0 if credit_score >= 700 else 20
        return {"points": credit_points + activity_points + payment_points + region_points}

    @task("choose_action", namespace=namespace)
    async def choose_action(
        points: Ref[int, F("score_risk", "points")],
        hold_threshold: Ref[int, F("build_region_policy", "hold_threshold")],
        channel: Ref[str, F("build_region_policy", "channel")],
    ) -> dict:
        action = "hold_payouts" if points >= hold_threshold else "approve"
        return {"action": action, "channel": channel}

    @task("send_notification", namespace=namespace)
    async def send_notification(
        contact: Ref[str, F("fetch_profile", "contact")],
        action: Ref[str, F("choose_action", "action")],
        channel: Ref[str, F("choose_action", "channel")],
    ) -> dict:
        await asyncio.sleep(0.01)
        return {"delivered_to": contact, "via": channel, "template": f"risk-{action}"}

    @task("archive_decision", namespace=namespace)
    async def archive_decision(
        merchant_id: Ref[str, F("fetch_profile", "merchant_id")],
        action: Ref[str, F("choose_action", "action")],
        points: Ref[int, F("score_risk", "points")],
    ) -> dict:
        await asyncio.sleep(0.01)
        return {"record": f"decisions/{merchant_id}/{action}-{points}"}

    @task("final_summary", namespace=namespace)
    async def final_summary(
        notification: Ref[dict, F("send_notification")],
        record: Ref[str, F("archive_decision", "record")],
        action: Ref[str, F("choose_action", "action")],
        points: Ref[int, F("score_risk", "points")],
        credit_score: Ref[int, F("fetch_credit_score", "score")],
    ) -> dict:
        return {
            "action": action,
            "points": points,
            "credit_score": credit_score,
            "notified": notification["template"],
            "record": record,
        }


async def example_6(config: AstrumConfig) -> str:
    """Twelve async tasks; the credit lookup fails once and succeeds on its retry."""
    namespace = "example_6"
    bureau = BureauStub()
    register_risk_review(namespace, bureau)
    try:
        report = await execute(namespace, config)
    finally:
        clear_registry(namespace)

    # activity 5*2 + 10*2 = 30; payments 3*4 = 12; region 10; credit 702 >= 700 -> 0; total 52 >= 50.
    assert report.results["final_summary"] == {
        "action": "hold_payouts",
        "points": 52,
        "credit_score": 702,
        "notified": "risk-hold_payouts",
        "record": "decisions/m-5531/hold_payouts-52",
    }
    assert report.results["detect_payment_flags"]["flags"] == ["declines"]
    assert bureau.calls == ["m-5531", "m-5531"]
    credit = next(s for s in report.task_statistics if s.task_name == "fetch_credit_score")
    assert (credit.status, credit.retry, credit.attempt_count) == ("completed", 1, 2)
    assert [a.status for a in credit.attempt_statistics] == ["failed", "completed"]
    assert report.total_tasks == 12
    assert dependency_map(report) == RISK_DEPENDENCIES
    return (
        f"risk review  12 async tasks, credit lookup took {credit.attempt_count} attempts, "
        f"decision {report.results['choose_action']['action']!r}"
    )


EXAMPLES: list[Example] = [example_1, example_2, example_3, example_4, example_5, example_6]


async def main(visualize: bool = False) -> list[str]:
    """Run the six examples in order; print and return one line per example."""
    config = dataclasses.replace(CONFIG, visualize=visualize)
    lines: list[str] = []
    for number, example in enumerate(EXAMPLES, start=1):
        line = f"example_{number}  {await example(config)}"
        print(line)
        lines.append(line)
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--visualize",
        action="store_true",
        help='print each DAG and its data-transport matrix at build (needs pip install "astrum[viz]")',
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(visualize=parse_args().visualize))
