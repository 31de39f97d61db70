"""Public home of data transport: ``Ref``/``F``/``T`` annotations and the explicit models.

The pydantic models (``TaskData``, ``DataItem``, ``DTRela``, ``DataRef``) and
``auto_generate_data_transports`` are loaded on first use.
"""

from typing import TYPE_CHECKING

from .authoring._inject import TaskInputError as TaskInputError
from .authoring._transport import F as F
from .authoring._transport import From as From
from .authoring._transport import Ref as Ref
from .authoring._transport import T as T
from .authoring._transport import To as To
from .core._graph import TaskOrder as TaskOrder

if TYPE_CHECKING:
    from .authoring._autogen import auto_generate_data_transports as auto_generate_data_transports
    from .authoring._taskdata import DataItem as DataItem
    from .authoring._taskdata import DataRef as DataRef
    from .authoring._taskdata import DTRela as DTRela
    from .authoring._taskdata import TaskData as TaskData

__all__ = [
    "DTRela",
    "DataItem",
    "DataRef",
    "F",
    "From",
    "Ref",
    "T",
    "TaskData",
    "TaskInputError",
    "TaskOrder",
    "To",
    "auto_generate_data_transports",
]


def __getattr__(name: str) -> object:
    if name in ("DTRela", "DataItem", "DataRef", "TaskData"):
        from .authoring import _taskdata

        return getattr(_taskdata, name)
    if name == "auto_generate_data_transports":
        from .authoring._autogen import auto_generate_data_transports

        return auto_generate_data_transports
    raise AttributeError(f"module 'astrum.data_transport' has no attribute {name!r}")
