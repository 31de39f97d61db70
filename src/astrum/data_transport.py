"""Public home of data transport: ``Ref``/``F``/``T`` annotations and the explicit models.

The pydantic models (``TaskData``, ``DataItem``, ``DTRela``, ``DataRef``) and
``auto_generate_data_transports`` are loaded on first use.
"""

from typing import TYPE_CHECKING

from ._graph import TaskOrder as TaskOrder
from ._inject import TaskInputError as TaskInputError
from ._transport import F as F
from ._transport import From as From
from ._transport import Ref as Ref
from ._transport import T as T
from ._transport import To as To

if TYPE_CHECKING:
    from ._autogen import auto_generate_data_transports as auto_generate_data_transports
    from ._taskdata import DataItem as DataItem
    from ._taskdata import DataRef as DataRef
    from ._taskdata import DTRela as DTRela
    from ._taskdata import TaskData as TaskData

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
        from . import _taskdata

        return getattr(_taskdata, name)
    if name == "auto_generate_data_transports":
        from ._autogen import auto_generate_data_transports

        return auto_generate_data_transports
    raise AttributeError(f"module 'astrum.data_transport' has no attribute {name!r}")
