"""Typed records: frozen dataclasses written as JSON-safe dicts and read back by their types.

A record's :meth:`~Record.to_dict` writes each field; :meth:`~Record.from_dict` reads each
field by its annotation — records, tuples and str-keyed dicts of them, optional values and
scalars — and refuses unknown keys, missing keys and values of the wrong type, each by name,
so a stored document a reader would misread is never read. The documents between the layers
(:mod:`valuation.core.report`, :mod:`valuation.core.detection`, the marketplace's
``Dataset.quality``) are built of them; a versioned document adds its ``version`` key.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Self, TypeVar

R = TypeVar("R")


class Record:
    """A frozen dataclass written as a dict of its fields and read back by their types."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, one key per field."""
        return {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`; a ValueError names any key or value it cannot read."""
        return _load(cls, data, cls.__name__)


class Versioned(Record):
    """A record stored as a document: :meth:`to_dict` carries :attr:`VERSION`, and
    :meth:`from_dict` refuses another or a missing version, so a document of an older layout
    is migrated rather than misread."""

    #: The layout of :meth:`to_dict`; a stored document of another layout is migrated.
    VERSION: ClassVar[int]
    #: What the document is, for the refusal ("an insight report of version 1; …").
    KIND: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.VERSION, **super().to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read a stored document; refuses another or a missing version."""
        data = dict(data)
        version = data.pop("version", None)
        if version != cls.VERSION:
            raise ValueError(f"{cls.KIND} of version {version}; this reads {cls.VERSION}")
        return super().from_dict(data)


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


def _load(cls: type[R], data: Any, where: str) -> R:
    """A record of ``cls`` from its dict, every field read by its annotation."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be an object, not {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown keys of {where}: {', '.join(unknown)}")
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    hints = _hints(cls)
    return cls(**{name: _value(hints[name], data[name], f"{where}.{name}") for name in data})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a record class (a report holds thousands of records)."""
    return typing.get_type_hints(cls)


def _value(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return _load(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where} must be a list, not {type(value).__name__}")
        return tuple(_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ValueError(f"{where} must be an object, not {value!r}")
        return {key: _value(args[1], item, f"{where}[{key!r}]") for key, item in value.items()}
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        choices = [arg for arg in args if arg is not type(None)]
        if len(choices) == 1:
            return _value(choices[0], value, where)
        if any(_is(arg, value) for arg in choices):
            return value
    elif _is(hint, value):
        return value
    raise ValueError(f"{where} cannot be {value!r}")


def _is(kind: type, value: Any) -> bool:
    """Whether ``value`` is a ``kind`` as JSON writes it: an int is a float, a bool is
    neither an int nor a float."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)
