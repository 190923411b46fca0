"""`KaiObject`: the dict every API response comes back as, with attribute access."""

from __future__ import annotations

from typing import Any


class KaiObject(dict[str, Any]):
    """A ``dict`` with attribute access: ``call.id == call["id"]``.

    Reading a missing attribute returns ``None`` instead of raising, so new and
    optional server fields are always safe to read. Nested objects are wrapped too,
    so both ``result.quality_dimensions.empathy`` and ``page["calls"][0].id`` work.

    Dict methods win over keys of the same name (``obj.items`` is the method); read
    such keys, and keys that are Python keywords (``from``), by subscript:
    ``call["from"]``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            wrapped = wrap(value)
            if wrapped is not value:
                dict.__setitem__(self, key, wrapped)

    def __getattr__(self, name: str) -> Any:
        # Dunder lookups (copy, pickle, IPython) must see a real AttributeError.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, wrap(value))

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"KaiObject({dict.__repr__(self)})"


def wrap(value: Any) -> Any:
    """Wraps dicts (also inside lists) as `KaiObject`; other values pass through."""
    if isinstance(value, KaiObject):
        return value
    if isinstance(value, dict):
        return KaiObject(value)
    if isinstance(value, list):
        return [wrap(item) for item in value]
    return value
