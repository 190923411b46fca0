"""`KaiModel`: the base of the typed response objects (`kaicalls._models`, generated
from the server's OpenAPI document by ``sdks/codegen/generate.py``)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from ._object import KaiObject, wrap


class KaiModel(KaiObject):
    """A `KaiObject` that knows its schema's fields.

    A subclass declares every documented field as a class annotation
    (``summary: str | None``). At runtime, attribute access reads the dict:

    - a key the answer carries reads as its value, documented or not (a field a newer
      server added stays readable);
    - a documented field the answer omits reads as ``None``;
    - any other name raises ``AttributeError`` (``'Call' object has no attribute
      'sumary'``), where a plain `KaiObject` would answer ``None``.

    Values of the fields listed in ``_nested`` are wrapped in their model (an object,
    or each object of a list); other dicts become `KaiObject`. Subscripting, ``in``,
    equality, copying and pickling are the dict's, as for `KaiObject`.

    For type checkers only the annotations exist: `KaiObject`'s ``__getattr__`` and
    ``__setattr__`` (which accept any name) are hidden below, so ``mypy --strict``
    types ``call.summary`` as ``str | None`` and reports ``call.sumary``. A model is
    still a `KaiObject` (and a ``dict``) for ``isinstance`` and for annotations.
    """

    #: Fields whose values are wrapped in a model: name -> model class.
    _nested: ClassVar[Nested] = {}
    #: Documented fields that cannot be attributes (keywords, dict methods): ``obj["from"]``.
    _subscript_only: ClassVar[tuple[str, ...]] = ()
    #: Every documented field (computed from the annotations).
    _fields: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = {n for n in inspect.get_annotations(cls) if not n.startswith("_")}
        names.update(cls._subscript_only)
        for base in cls.__mro__[1:]:
            if issubclass(base, KaiModel):
                names.update(base._fields)
        cls._fields = frozenset(names)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self, *args, **kwargs)
        for key, value in self.items():
            converted = self._convert(key, value)
            if converted is not value:
                dict.__setitem__(self, key, converted)

    @classmethod
    def _convert(cls, key: str, value: Any) -> Any:
        model = cls._nested.get(key)
        return wrap(value) if model is None else _as(model, value)

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, self._convert(key, value))

    if TYPE_CHECKING:
        # Not methods, so a type checker finds no __getattr__ / __setattr__ on a model
        # and checks attribute names against the annotations.
        __getattr__: None  # type: ignore[assignment, misc]
        __setattr__: None  # type: ignore[assignment, misc]
    else:

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            try:
                return self[name]
            except KeyError:
                if name in self._fields:
                    return None
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
            )

    def __dir__(self) -> list[str]:
        keys = {k for k in self if isinstance(k, str) and k.isidentifier()}
        return sorted(set(super().__dir__()) | self._fields | keys)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


Nested: TypeAlias = Mapping[str, type[KaiModel]]


def _as(model: type[KaiModel], value: Any) -> Any:
    """``value`` as ``model``: an object wrapped, each object of a list wrapped; other
    values (``None``) as they are."""
    if isinstance(value, model):
        return value
    if isinstance(value, Mapping):
        return model(value)
    if isinstance(value, list):
        return [_as(model, item) for item in value]
    return value
