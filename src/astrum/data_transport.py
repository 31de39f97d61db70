"""Public home of data transport: ``Ref``/``F``/``T`` annotations and the explicit models."""

from ._autogen import auto_generate_data_transports as auto_generate_data_transports
from ._inject import TaskInputError as TaskInputError
from ._taskdata import DataItem as DataItem
from ._taskdata import DataRef as DataRef
from ._taskdata import DTRela as DTRela
from ._taskdata import TaskData as TaskData
from ._transport import F as F
from ._transport import From as From
from ._transport import Ref as Ref
from ._transport import T as T
from ._transport import To as To

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
    "To",
    "auto_generate_data_transports",
]
