"""Public home of :class:`AstrumConfig`."""

from ._config import AstrumConfig as AstrumConfig

__all__ = ["AstrumConfig"]
