"""Where feature packages plug into the kernel, as Decidim's components do: the kernel owns
one small registry per cross-cutting concern (privacy parts, KPI providers, demo seeders)
and iterates it; it never imports a feature package. ``web.bootstrap`` fills them once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named contributions in a stable order (``order``, then registration); registering the
    same name again replaces the entry, so bootstrapping twice changes nothing."""

    def __init__(self, concern: str) -> None:
        self.concern = concern
        self._entries: dict[str, tuple[int, int, T]] = {}

    def register(self, name: str, item: T, *, order: int = 100) -> None:
        seq = self._entries[name][1] if name in self._entries else len(self._entries)
        self._entries[name] = (order, seq, item)

    def __iter__(self) -> Iterator[T]:
        return (item for _order, _seq, item in sorted(self._entries.values(), key=lambda e: e[:2]))

    def names(self) -> list[str]:
        return [name for name, _ in sorted(self._entries.items(), key=lambda kv: kv[1][:2])]

    def __len__(self) -> int:
        return len(self._entries)
