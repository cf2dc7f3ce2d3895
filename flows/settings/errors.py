"""The one error a setting with no usable value raises."""

from __future__ import annotations


class SettingsError(ValueError):
    """A BULLETINS_* variable holds no usable value; the message names it and what it takes."""
