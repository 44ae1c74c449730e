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


class PluginLoadError(LookupError):
    """A plugin's entry point is installed but cannot be imported."""


class Registry(Generic[T]):
    """Plugins of one group, keyed by the ``kind:`` string a plan uses.

    Entry points are loaded one at a time, when their kind is first asked for: a broken
    third-party plugin fails only the plans that use it.
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self._items: dict[str, T] = {}

    def register(self, kind: str, plugin: T) -> None:
        """Add (or replace) the plugin for ``kind``."""
        self._items[kind] = plugin

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def get(self, kind: str) -> T:
        """The plugin for ``kind``; :class:`UnknownKind` names the installed ones."""
        if kind in self._items:
            return self._items[kind]
        ep = self._entry_points().get(kind)
        if ep is None:
            raise UnknownKind(
                f"unknown {self.group.removeprefix('rollguard.')} kind {kind!r} "
                f"(installed: {', '.join(self.kinds())})"
            )
        try:
            plugin: T = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported
            raise PluginLoadError(
                f"{self.group} plugin {kind!r} ({ep.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._items[kind] = plugin
        return plugin

    def kinds(self) -> list[str]:
        """Installed kinds, sorted."""
        return sorted(set(self._items) | set(self._entry_points()))


__all__ = ["PluginLoadError", "Registry", "UnknownKind"]
