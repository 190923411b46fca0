"""What every resource shares: how a method's request is sent and what it answers.

A resource is written once, generic over what its client's ``send`` returns (`Sync`:
the answer itself; `Async`: an awaitable of it). A method of an operation the server
documents builds its `Req` and is decorated with ``@returns(Model)``: the descriptor
sends the request through the resource's ``send`` and the answer comes back as that
model (`kaicalls._models`), typed ``Model`` on `KaiCalls` and ``Awaitable[Model]`` on
`AsyncKaiCalls`. Methods of the published product's paths this server does not serve
call ``_get`` / ``_post`` / ... directly and answer an untyped `KaiObject`.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import MethodType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from .._http import Req, compact
from .._model import KaiModel
from .._object import KaiObject

#: What a resource's ``send`` returns: `Sync` or `Async`.
R = TypeVar("R")
P = ParamSpec("P")
M = TypeVar("M", bound=KaiModel)

Sync = KaiObject
Async = Awaitable[KaiObject]


class Resource(Generic[R]):
    def __init__(self, send: Callable[[Req], R]) -> None:
        self._send = send

    def _get(self, path: str, query: dict[str, Any] | None = None) -> R:
        return self._send(get_req(path, query))

    def _post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        create: bool = False,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
        query: dict[str, Any] | None = None,
    ) -> R:
        return self._send(
            post_req(
                path,
                body,
                create=create,
                idempotency_key=idempotency_key,
                idempotent=idempotent,
                query=query,
            )
        )

    def _patch(self, path: str, body: dict[str, Any]) -> R:
        return self._send(patch_req(path, body))

    def _delete(self, path: str, query: dict[str, Any]) -> R:
        return self._send(delete_req(path, query))


def get_req(path: str, query: dict[str, Any] | None = None) -> Req:
    return Req("GET", path, query=query)


def post_req(
    path: str,
    body: dict[str, Any] | None = None,
    *,
    create: bool = False,
    idempotency_key: str | None = None,
    idempotent: bool | None = None,
    query: dict[str, Any] | None = None,
) -> Req:
    headers = None
    if create or idempotency_key:
        headers = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
    return Req(
        "POST",
        path,
        query=query,
        body=compact(body) if body is not None else None,
        headers=headers,
        # Only keys the server honours make a retry after a 5xx safe.
        idempotent=idempotent if idempotent is not None else False,
    )


def patch_req(path: str, body: dict[str, Any]) -> Req:
    return Req("PATCH", path, body=compact(body))


def delete_req(path: str, query: dict[str, Any]) -> Req:
    return Req("DELETE", path, query=query)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class Operation(Generic[P, M]):
    """A resource method answering ``model`` (made by `returns`).

    Read on a resource it is a bound method (same name, docstring and parameters as
    the function it wraps, which builds the request) that sends the request through
    the resource's ``send`` with ``model`` attached: the answer is wrapped in it.
    """

    def __init__(self, build: Callable[Concatenate[Any, P], Req], model: type[M]) -> None:
        self.model = model
        self._sync = _method(build, model, model.__name__)
        self._async = _method(build, model, f"Awaitable[{model.__name__}]")

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Callable[..., Any]: ...

    @overload
    def __get__(self, obj: Resource[Sync], owner: type[Any] | None = None) -> Callable[P, M]: ...

    @overload
    def __get__(
        self, obj: Resource[Async], owner: type[Any] | None = None
    ) -> Callable[P, Awaitable[M]]: ...

    def __get__(self, obj: Resource[Any] | None, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self._sync
        is_async = inspect.iscoroutinefunction(obj._send)
        return MethodType(self._async if is_async else self._sync, obj)


def _method(build: Callable[..., Req], model: type[KaiModel], returns: str) -> Callable[..., Any]:
    def method(resource: Resource[Any], /, *args: Any, **kwargs: Any) -> Any:
        return resource._send(replace(build(resource, *args, **kwargs), model=model))

    functools.update_wrapper(method, build)
    # help() and inspect show the model, not the Req the wrapped function builds.
    signature = inspect.signature(build).replace(return_annotation=returns)
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__annotations__ = {**build.__annotations__, "return": returns}
    return method


def returns(model: type[M]) -> Callable[[Callable[Concatenate[Any, P], Req]], Operation[P, M]]:
    """``@returns(Call)`` on a method that builds the `Req` of an operation answering a
    ``Call``."""

    def decorate(build: Callable[Concatenate[Any, P], Req]) -> Operation[P, M]:
        return Operation(build, model)

    return decorate
