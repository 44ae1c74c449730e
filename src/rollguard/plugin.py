"""The public extension API: one name-keyed registry per kind of plugin.

Built-in backends, metric providers and checks are registered exactly like third-party ones:
through Python entry points in the groups ``rollguard.backends``, ``rollguard.metrics``,
``rollguard.checks`` and ``rollguard.judges``. A plugin package declares, in its
``pyproject.toml``::

    [project.entry-points."rollguard.checks"]
    mongo-count = "my_package.checks:MongoCount"

Tests and embedders may also call :meth:`Registry.register` directly.
"""

from __future__ import annotations

from importlib import metadata
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownKind(LookupError):
    """No plugin of that kind is installed; the message lists the installed ones."""


class Registry(Generic[T]):
    """Plugins of one group, keyed by the ``kind:`` string a plan uses."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, kind: str, plugin: T) -> None:
        """Add (or replace) the plugin for ``kind``."""
        self._items[kind] = plugin

    def _load_entry_points(self) -> None:
        if self._loaded:
            return
        for ep in metadata.entry_points(group=self.group):
            if ep.name not in self._items:  # registered in code wins; no need to import it
                self._items[ep.name] = ep.load()
        self._loaded = True

    def get(self, kind: str) -> T:
        """The plugin for ``kind``; :class:`UnknownKind` names the installed ones."""
        self._load_entry_points()
        try:
            return self._items[kind]
        except KeyError:
            raise UnknownKind(
                f"unknown {self.group.removeprefix('rollguard.')} kind {kind!r} "
                f"(installed: {', '.join(self.kinds())})"
            ) from None

    def kinds(self) -> list[str]:
        """Installed kinds, sorted."""
        self._load_entry_points()
        return sorted(self._items)


__all__ = ["Registry", "UnknownKind"]
