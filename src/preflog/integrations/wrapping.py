"""Methods of an LLM client replaced by logging ones, and streams that log once when they end.

:func:`patch` replaces one method on one resource object of a client (``client.chat.completions``
is created once per client and cached, so replacing its ``create`` attribute wraps every call
through that client; copies made by ``with_options()`` are not wrapped). The replacement calls the
original with the same arguments (minus ``preflog_request_id=``), returns what it returned, and
lets its errors through unchanged; preflog's work runs under :func:`~.capture.guard`.

A stream (``stream=True``) is returned as a :class:`LoggedStream` / :class:`AsyncLoggedStream`:
it yields the provider's chunks unchanged (other attributes are the provider stream's) and keeps
them; the inference is logged **once**, when the stream ends, is closed (``close()``, the ``with``
block, or dropped unfinished) or fails. One that did not end normally, or whose choices did not
all finish, is flagged ``metadata.partial: true`` with ``stream_end`` (``closed``, ``error``,
``abandoned``) and the error.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from preflog.integrations.capture import REQUEST_ID_KEYWORD, Answer, Call, Endpoint, guard, release, tag
from preflog.sdk.candidates import set_current_request_id

if TYPE_CHECKING:
    from preflog.sdk.client import Client

MARK = "__preflog_wrapped__"
_ERROR_TEXT_MAX = 300  # characters of a stream's error kept in metadata: the type and the gist


def patch(resource: Any, attr: str, client: Client, endpoint: Endpoint, *, is_async: bool) -> None:
    """Replace ``resource.attr`` by its logging twin (once: wrapping twice changes nothing)."""
    method = getattr(resource, attr, None)
    if method is None or getattr(method, MARK, False):
        return
    wrapped = _async_method(method, client, endpoint) if is_async else _sync_method(method, client, endpoint)
    setattr(wrapped, MARK, True)
    setattr(resource, attr, wrapped)


def _start(client: Client, endpoint: Endpoint, kwargs: dict[str, Any]) -> Call | None:
    return guard(client, endpoint.name, Call, client, endpoint, kwargs)


def _sync_method(method: Callable[..., Any], client: Client, endpoint: Endpoint) -> Callable[..., Any]:
    @functools.wraps(method)
    def logged(*args: Any, **kwargs: Any) -> Any:
        call = _start(client, endpoint, kwargs)
        kwargs.pop(REQUEST_ID_KEYWORD, None)  # the provider must never see it, whatever happened
        result = method(*args, **kwargs)
        if call is None:
            return result
        if kwargs.get("stream") is True:
            return guard(client, endpoint.name, LoggedStream, result, call) or result
        guard(client, endpoint.name, log_response, call, result)
        return result

    return logged


def _async_method(method: Callable[..., Any], client: Client, endpoint: Endpoint) -> Callable[..., Any]:
    @functools.wraps(method)
    async def logged(*args: Any, **kwargs: Any) -> Any:
        call = _start(client, endpoint, kwargs)
        kwargs.pop(REQUEST_ID_KEYWORD, None)
        result = await method(*args, **kwargs)
        if call is None:
            return result
        if kwargs.get("stream") is True:
            return guard(client, endpoint.name, AsyncLoggedStream, result, call) or result
        guard(client, endpoint.name, log_response, call, result)
        return result

    return logged


def log_response(call: Call, result: Any) -> None:
    request_id, ids = call.log_response(result)
    tag(result, request_id, ids)


class StreamLog:
    """The chunks of one stream and the once-only logging of its inference."""

    def __init__(self, call: Call, owner: Any) -> None:
        self.call = call
        # The object handed to the application gets the request id; a weak reference, so that a
        # stream dropped unfinished is collected (and logged) at once, not by the cycle collector.
        self.owner = weakref.ref(owner)
        self.chunks: list[Any] = []
        self.done = False
        call.hold()
        early = call.candidate_set.request_id if call.candidate_set else call.given_request_id
        if early is not None:
            tag(owner, early, [])
            set_current_request_id(early)

    def finish(self, how: str, error: BaseException | None = None, answer: Answer | None = None) -> None:
        """Log the inference (``how``: ``end``, ``closed``, ``error``, ``abandoned``), once."""
        if self.done:
            return
        self.done = True
        try:
            guard(self.call.client, self.call.endpoint.name, self._log, how, error, answer)
        finally:
            guard(self.call.client, self.call.endpoint.name, release, self.call.candidate_set)

    def _log(self, how: str, error: BaseException | None, answer: Answer | None) -> None:
        def metadata(read: Answer) -> dict[str, Any]:
            """Whether the stream ended whole: read from its answer (in the worker)."""
            found: dict[str, Any] = {"stream": True}
            unfinished = any("finish_reason" not in r for r in read.replies.values())
            if how != "end" or unfinished or not read.replies:
                found.update(partial=True, stream_end=how if how != "end" else "unfinished")
                if error is not None:
                    found["stream_error"] = f"{type(error).__name__}: {error}"[:_ERROR_TEXT_MAX]
            return found

        if answer is None:
            request_id, ids = self.call.log_stream(list(self.chunks), metadata)
        else:
            request_id, ids = self.call.log(answer, metadata)
        owner = self.owner()
        if owner is not None:
            tag(owner, request_id, ids)


class LoggedStream:
    """A provider's sync stream that logs its inference once (see the module docstring)."""

    def __init__(self, stream: Any, call: Call) -> None:
        self._stream = stream
        self._log = StreamLog(call, self)

    def __iter__(self) -> LoggedStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._stream)
        except StopIteration:
            self._log.finish("end")
            raise
        except BaseException as exc:
            self._log.finish("error", exc)
            raise
        self._log.chunks.append(item)
        return item

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._log.finish("closed")

    def __enter__(self) -> LoggedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        log = self.__dict__.get("_log")
        if log is not None and not log.done:
            log.finish("abandoned")


class AsyncLoggedStream:
    """A provider's async stream that logs its inference once (see the module docstring)."""

    def __init__(self, stream: Any, call: Call) -> None:
        self._stream = stream
        self._log = StreamLog(call, self)

    def __aiter__(self) -> AsyncLoggedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._stream.__anext__()
        except StopAsyncIteration:
            self._log.finish("end")
            raise
        except BaseException as exc:
            self._log.finish("error", exc)
            raise
        self._log.chunks.append(item)
        return item

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._log.finish("closed")

    async def aclose(self) -> None:
        await self.close()

    async def __aenter__(self) -> AsyncLoggedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        log = self.__dict__.get("_log")
        if log is not None and not log.done:
            log.finish("abandoned")
