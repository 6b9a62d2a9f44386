"""Lazy re-exports (PEP 562): a package lists the names its submodules define, and a submodule
that imports torch is imported only when one of its names is first used."""

from __future__ import annotations

import sys
from importlib import import_module


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]):
    """A module-level __getattr__ for `package` serving exports {".submodule": (names, ...)}."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name], package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
