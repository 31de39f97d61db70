"""Explicit data-transport models: ``TaskData``, ``DataItem``, ``DTRela``, ``DataRef``.

These are Astrum 0.1's pydantic models for declaring, by hand, which part of
which task's result feeds which parameter. Annotation-driven transport
(``Ref[T, F(...)]``) is parsed into the same shapes. A run never stores values
in these models: values flow through each run's own results.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails

from .._errors import ConfigurationError

__all__ = ["DTRela", "DataItem", "DataItemError", "DataRef", "TaskData", "normalize_data_model"]


class DataItemError(ConfigurationError, ValidationError):
    """``DataItem(...)`` refused its arguments (``allow_data_model=Any``, a field of the wrong type).

    Also pydantic's ``ValidationError`` (so a ``ValueError``), which Astrum 0.1 raised:
    ``errors()`` lists each problem.
    """

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> DataItemError:
        """The same problems as ``error``, raised as an astrum error."""
        details: list[InitErrorDetails] = []
        for problem in error.errors(include_url=False):
            detail = InitErrorDetails(type=problem["type"], loc=problem["loc"], input=problem["input"])
            if "ctx" in problem:
                detail["ctx"] = problem["ctx"]
            details.append(detail)
        return cls.from_exception_data(error.title, details)


def normalize_data_model(value: Any) -> Any:
    """Normalise a declared value type: unwrap ``Annotated``, reduce generics to their origin.

    ``list[int]`` becomes ``list``; unions (``int | None``) are kept as they are.

    Raises:
        ConfigurationError: for ``Any`` or for something that is not a type (also a ``ValueError``).
    """
    if value is None:
        return None
    if value is Any:
        raise ConfigurationError("allow_data_model cannot be Any; use a concrete data model type")
    if typing.get_origin(value) is Annotated:
        return normalize_data_model(typing.get_args(value)[0])
    origin = typing.get_origin(value)
    if origin is typing.Union or _is_union_type(origin):
        return value
    if origin is not None and isinstance(origin, type):
        return origin
    if not isinstance(value, type):
        raise ConfigurationError(
            f"allow_data_model must be a class/type, got {value!r}; pass the class itself (int, dict, a model)"
        )
    return value


def _is_union_type(origin: Any) -> bool:
    import types

    return origin is types.UnionType


class DTRela(BaseModel):
    """One end of a data relation.

    Exactly one mode: ``key`` (dict key or attribute, or keyword argument),
    ``index`` (sequence index, or positional argument) or ``single_item=True``
    (the whole value). ``from_function`` (input side only) computes the value by
    calling it at injection time instead of reading a task's result.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    key: str | None = None
    index: int | None = None
    single_item: bool = False
    related_task: str
    from_function: Callable[..., Any] | Any | None = None


class DataRef(BaseModel):
    """A value slot (kept for compatibility; runs keep values in their own results)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    data: Any = None


class DataItem(BaseModel):
    """One value moving between two tasks: where it comes from, where it goes, its type.

    Raises:
        DataItemError: an argument it cannot use (also pydantic's ``ValidationError``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise DataItemError.from_validation_error(error) from None

    allow_data_model: Any = None
    data_ref: DataRef | None = None
    data_lock: asyncio.Lock = Field(default_factory=asyncio.Lock, repr=False, exclude=True)
    from_relation: DTRela | None = None
    to_relation: DTRela | None = None

    @field_validator("allow_data_model", mode="before")
    @classmethod
    def _normalize_model(cls, value: Any) -> Any:
        return normalize_data_model(value)


class TaskData(BaseModel):
    """All data items of one task: its inputs, its outputs and the tasks they connect."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task_id: str = ""
    input_data_item: list[DataItem] = Field(default_factory=list)
    output_data_item: list[DataItem] = Field(default_factory=list)
    from_tasks: list[str] = Field(default_factory=list)
    to_tasks: list[str] = Field(default_factory=list)
    class_owner: Any = None
    requires_class_instance: bool = False
    class_receiver: Any = None
