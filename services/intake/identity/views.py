"""A mapping the pure identity functions read by key only (they call ``.get``).

The tables can be large and live in RocksDB: nothing here may iterate them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")


class KeyedView(Mapping[str, V | None], Generic[V]):
    """Subclasses give ``get``; ``[key]`` follows it, iteration and size are refused."""

    __slots__ = ()

    @abstractmethod
    def get(self, key: str, default: object = None) -> V | None: ...

    def __getitem__(self, key: str) -> V | None:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        raise TypeError(f"{type(self).__name__} is read by key only")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is read by key only")
