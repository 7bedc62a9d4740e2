"""The untuned settings' old import path: they are written in the parameter
registry (:mod:`allgui.core.model.params`); this module only names them for
code that still imports them from here."""

from allgui.core.model.params import UNTUNED, untuned_defaults, with_untuned

__all__ = ["UNTUNED", "untuned_defaults", "with_untuned"]
