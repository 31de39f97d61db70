"""Public home of `AstrumConfig`."""

from .authoring._config import AstrumConfig as AstrumConfig

__all__ = ["AstrumConfig"]
