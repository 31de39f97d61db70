"""A coffee-shop order flow wired with explicit ``TaskData`` / ``DataItem`` / ``DTRela``.

Annotation-driven transport (``Ref[T, F(...)]``) is the everyday style; this
example spells every relation out by hand, the way a framework or a generated
DAG would. It shows each kind of relation:

* keyed       ``DTRela(key="milk", ...)``        a dict key / attribute of the upstream result
* indexed     ``DTRela(index=1, ...)``           an item of an upstream tuple or list
* whole       ``DTRela(single_item=True, ...)``  the whole upstream result
* injected    ``DTRela(from_function=...)``      a value computed when the task starts
                                                  (no upstream task, no dependency)

On the receiving side, ``to_relation.key`` names a keyword argument and
``to_relation.index`` a positional one.

    task            receives
    take_order      -
    check_pantry    -
    price_drink     take_order "drink", "size", "extra_shots"; ƒ fetch_price_list()
    pull_shots      check_pantry [0], [1] (positional); take_order "extra_shots"
    steam_milk      take_order "milk", "size"; check_pantry [2]
    assemble_drink  pull_shots (whole); steam_milk (whole)
    ring_up         take_order (whole); price_drink "price_cents", "label"
    hand_over       assemble_drink (whole); ring_up (whole)
    clean_grinder   -  (registered, but not needed by hand_over, so not run)

Run it::

    python examples/coffee_shop.py              # plain output
    python examples/coffee_shop.py --visualize  # also print the DAG (needs astrum[viz])
"""

import argparse
import asyncio
from typing import TypedDict

from astrum import AstrumConfig, ExecutionReport, clear_registry, run, task
from astrum.data_transport import DataItem, DTRela, TaskData

NAMESPACE = "coffee_shop"
CONFIG = AstrumConfig(silence=True, silence_warnings=True)


class Order(TypedDict):
    """What the customer asked for at the counter."""

    customer: str
    drink: str
    size: str
    milk: str
    extra_shots: int


class OutOfStockError(RuntimeError):
    """The pantry cannot cover an order."""


MILK_ML = {"small": 120, "medium": 180, "large": 240}
SIZE_SURCHARGE_CENTS = {"small": 0, "medium": 40, "large": 80}
GRAMS_PER_SHOT = 9


async def fetch_price_list() -> dict:
    """Today's price list, as the point-of-sale service would return it."""
    await asyncio.sleep(0.01)
    return {"flat white": 360, "cortado": 320, "cappuccino": 380, "extra shot": 60}


def keyed(source: str, key: str, target: str, param: str, model: type) -> DataItem:
    """``source_result[key]`` -> keyword argument ``param`` of ``target``."""
    return DataItem(
        allow_data_model=model,
        from_relation=DTRela(key=key, related_task=source),
        to_relation=DTRela(key=param, related_task=target),
    )


def register_coffee_shop(namespace: str, order: Order, pantry: tuple[str, int, dict[str, int]]) -> None:
    """Register the order flow for one ``order`` against one ``pantry`` snapshot."""

    @task("take_order", namespace=namespace, data=TaskData())
    async def take_order() -> Order:
        await asyncio.sleep(0.01)
        return order

    @task("check_pantry", namespace=namespace, data=TaskData())
    async def check_pantry() -> tuple[str, int, dict[str, int]]:
        await asyncio.sleep(0.02)
        return pantry  # (roast on the grinder, grams of beans in the hopper, millilitres of each milk)

    @task(
        "price_drink",
        namespace=namespace,
        data=TaskData(
            input_data_item=[
                keyed("take_order", "drink", "price_drink", "drink", str),
                keyed("take_order", "size", "price_drink", "size", str),
                keyed("take_order", "extra_shots", "price_drink", "extra_shots", int),
                DataItem(
                    allow_data_model=dict,
                    from_relation=DTRela(related_task="price_drink", from_function=fetch_price_list),
                    to_relation=DTRela(key="price_list", related_task="price_drink"),
                ),
            ]
        ),
    )
    def price_drink(drink: str, size: str, extra_shots: int, price_list: dict) -> dict:
        cents = price_list[drink] + SIZE_SURCHARGE_CENTS[size] + extra_shots * price_list["extra shot"]
        return {
            "price_cents": cents,
            "label": f"{size} {drink}" + (f" +{extra_shots} shot" if extra_shots else ""),
        }

    @task(
        "pull_shots",
        namespace=namespace,
        data=TaskData(
            input_data_item=[
                # Positional arguments 0 and 1 come from items 0 and 1 of the pantry tuple.
                DataItem(
                    allow_data_model=str,
                    from_relation=DTRela(index=0, related_task="check_pantry"),
                    to_relation=DTRela(index=0, related_task="pull_shots"),
                ),
                DataItem(
                    allow_data_model=int,
                    from_relation=DTRela(index=1, related_task="check_pantry"),
                    to_relation=DTRela(index=1, related_task="pull_shots"),
                ),
                keyed("take_order", "extra_shots", "pull_shots", "extra_shots", int),
            ]
        ),
    )
    async def pull_shots(roast: str, beans_in_hopper_g: int, extra_shots: int) -> dict:
        shots = 2 + extra_shots
        if shots * GRAMS_PER_SHOT > beans_in_hopper_g:
            raise OutOfStockError(f"{shots} shots need {shots * GRAMS_PER_SHOT} g of {roast}")
        await asyncio.sleep(0.03)  # 25-30 s on a real machine
        return {"shots": shots, "roast": roast, "grams": shots * GRAMS_PER_SHOT}

    @task(
        "steam_milk",
        namespace=namespace,
        data=TaskData(
            input_data_item=[
                keyed("take_order", "milk", "steam_milk", "milk", str),
                keyed("take_order", "size", "steam_milk", "size", str),
                DataItem(
                    allow_data_model=dict,
                    from_relation=DTRela(index=2, related_task="check_pantry"),
                    to_relation=DTRela(key="milk_stock_ml", related_task="steam_milk"),
                ),
            ]
        ),
    )
    async def steam_milk(milk: str, size: str, milk_stock_ml: dict) -> dict:
        needed = MILK_ML[size]
        if milk_stock_ml.get(milk, 0) < needed:
            raise OutOfStockError(f"{milk} milk: {needed} ml needed, {milk_stock_ml.get(milk, 0)} ml left")
        await asyncio.sleep(0.03)
        return {"milk": milk, "ml": needed, "texture": "microfoam"}

    @task(
        "assemble_drink",
        namespace=namespace,
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=dict,
                    from_relation=DTRela(single_item=True, related_task="pull_shots"),
                    to_relation=DTRela(key="espresso", related_task="assemble_drink"),
                ),
                DataItem(
                    allow_data_model=dict,
                    from_relation=DTRela(single_item=True, related_task="steam_milk"),
                    to_relation=DTRela(key="milk", related_task="assemble_drink"),
                ),
            ]
        ),
    )
    def assemble_drink(espresso: dict, milk: dict) -> str:
        return f"{espresso['shots']} shots of {espresso['roast']} under {milk['ml']} ml {milk['milk']} {milk['texture']}"

    @task(
        "ring_up",
        namespace=namespace,
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=dict,
                    from_relation=DTRela(single_item=True, related_task="take_order"),
                    to_relation=DTRela(key="order", related_task="ring_up"),
                ),
                keyed("price_drink", "price_cents", "ring_up", "price_cents", int),
                keyed("price_drink", "label", "ring_up", "label", str),
            ]
        ),
    )
    def ring_up(order: dict, price_cents: int, label: str) -> dict:
        return {"customer": order["customer"], "line": label, "total": f"${price_cents / 100:.2f}"}

    @task(
        "hand_over",
        namespace=namespace,
        data=TaskData(
            input_data_item=[
                DataItem(
                    allow_data_model=str,
                    from_relation=DTRela(single_item=True, related_task="assemble_drink"),
                    to_relation=DTRela(key="cup", related_task="hand_over"),
                ),
                DataItem(
                    allow_data_model=dict,
                    from_relation=DTRela(single_item=True, related_task="ring_up"),
                    to_relation=DTRela(key="receipt", related_task="hand_over"),
                ),
            ]
        ),
    )
    def hand_over(cup: str, receipt: dict) -> str:
        return f"{receipt['customer']}, your {receipt['line']} ({receipt['total']}): {cup}"

    # Registered in the same namespace but not needed by hand_over: target_tasks leaves it out.
    @task("clean_grinder", namespace=namespace)
    def clean_grinder() -> str:
        return "grinder cleaned"


async def serve(
    order: Order,
    pantry: tuple[str, int, dict[str, int]],
    *,
    config: AstrumConfig = CONFIG,
    namespace: str = NAMESPACE,
) -> ExecutionReport:
    """Register the flow for ``order``, run it up to ``hand_over`` and clear the namespace."""
    register_coffee_shop(namespace, order, pantry)
    try:
        return await run(target_tasks=["hand_over"], namespace=namespace, config=config)
    finally:
        clear_registry(namespace)


async def main(visualize: bool = False) -> list[str]:
    """Serve one order that succeeds and one the pantry cannot cover; print what happened."""
    config = AstrumConfig(silence=True, silence_warnings=True, visualize=visualize)
    pantry = ("Ethiopia Guji", 250, {"oat": 1000, "whole": 150})
    lines: list[str] = []

    mia: Order = {"customer": "Mia", "drink": "flat white", "size": "large", "milk": "oat", "extra_shots": 1}
    report = await serve(mia, pantry, config=config)
    assert report.execution_state == "completed", report.error_summary
    assert set(report.results) == {
        "take_order",
        "check_pantry",
        "price_drink",
        "pull_shots",
        "steam_milk",
        "assemble_drink",
        "ring_up",
        "hand_over",
    }, "clean_grinder is not needed by hand_over and must not run"
    # 360 flat white + 80 large + 60 extra shot
    assert report.results["ring_up"] == {
        "customer": "Mia",
        "line": "large flat white +1 shot",
        "total": "$5.00",
    }
    assert report.results["pull_shots"] == {"shots": 3, "roast": "Ethiopia Guji", "grams": 27}
    assert report.results["hand_over"] == (
        "Mia, your large flat white +1 shot ($5.00): 3 shots of Ethiopia Guji under 240 ml oat microfoam"
    )
    deps = {name: set(d) for name, d in report.original_tasks.items()}
    assert deps["price_drink"] == {"take_order"}, "a from_function injection adds no dependency"
    assert deps["pull_shots"] == {"check_pantry", "take_order"}
    assert deps["hand_over"] == {"assemble_drink", "ring_up"}
    lines.append(f"served:  {report.results['hand_over']}")

    # Whole milk runs short: steam_milk fails, so nothing downstream of it is started.
    leo: Order = {
        "customer": "Leo",
        "drink": "cappuccino",
        "size": "medium",
        "milk": "whole",
        "extra_shots": 0,
    }
    failed = await serve(leo, pantry, config=config)
    stats = {s.task_name: s for s in failed.task_statistics}
    assert failed.execution_state == "failed"
    assert stats["steam_milk"].status == "failed"
    assert isinstance(stats["steam_milk"].exception, OutOfStockError)
    assert stats["hand_over"].status == "skipped"
    assert stats["hand_over"].caused_by == "steam_milk"
    assert "whole milk: 180 ml needed, 150 ml left" in failed.error_summary[0]
    lines.append(f"refused: {failed.error_summary[0]}")

    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the coffee-shop order flow.")
    parser.add_argument(
        "--visualize", action="store_true", help='print the DAG (needs pip install "astrum[viz]")'
    )
    asyncio.run(main(visualize=parser.parse_args().visualize))
