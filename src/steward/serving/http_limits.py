"""Request heads within limits: header count, header size and a header-read timeout.

uvicorn's httptools protocol reads as many header lines, of any size, for as
long as a client cares to send them: 100,000 headers or one 64 MB header are
buffered whole (about 130 MB for one such request), and a client sending one
header byte every few seconds holds its connection for ever. ``GuardedHttpToolsProtocol``
counts the bytes and lines of each request head as they arrive and answers
431 as soon as either is over its limit, and 408 to a head not received within
its timeout. A refused connection is half-closed: the reply is sent, what the
client still sends is read and dropped (so the reply is not lost to a reset),
and the connection closes shortly after.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

_LINGER_S = 2.0


@dataclass(frozen=True)
class HeadLimits:
    """The limits on one request head (request line and headers)."""

    max_headers: int = 100
    max_bytes: int = 64 * 1024
    timeout_s: float = 10.0


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the head limits each connection enforces."""

    def __init__(self, app: Any, *, head_limits: HeadLimits, **options: Any) -> None:
        super().__init__(app, http=GuardedHttpToolsProtocol, **options)
        self.head_limits = head_limits


class _HeadRefused(Exception):
    """Stops the parser once a head has been refused."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing heads over their limits (431) or too slow (408)."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: HeadLimits = getattr(config, "head_limits", None) or HeadLimits()
        self._in_head = True
        self._head_bytes = 0
        self._head_lines = 0
        self._tail = b""
        self._refused = False
        self._head_clock: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        """Start the head clock with the connection: an idle one is closed in time too."""
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timers with the connection."""
        self._stop_head_clock()
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count head bytes before parsing; drop everything once refused."""
        if self._refused:
            return
        if self._in_head and not self._head_fits(data):
            self._refuse(
                431,
                f"the request's headers are over {self.limits.max_bytes} bytes; send fewer "
                "or smaller headers.",
            )
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's reply to an unparsable request, unless this head was refused already."""
        if not self._refused:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        """A new request starts: its head is read under the clock."""
        super().on_message_begin()
        self._start_head_clock()

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count header lines."""
        self._head_lines += 1
        if self._head_lines > self.limits.max_headers:
            self._refuse(
                431,
                f"the request has more than {self.limits.max_headers} headers; send fewer.",
            )
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is whole: stop its clock; the body is the app's to time."""
        self._stop_head_clock()
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is whole: what comes next is the next request's head."""
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = self._head_lines = 0
        self._tail = b""

    def _head_fits(self, data: bytes) -> bool:
        window = self._tail + data
        end = window.find(b"\r\n\r\n")
        used = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
        self._head_bytes += used
        self._tail = window[-3:]
        return self._head_bytes <= self.limits.max_bytes

    def _start_head_clock(self) -> None:
        if self._head_clock is None and self.limits.timeout_s > 0:
            self._head_clock = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self._head_clock is not None:
            self._head_clock.cancel()
            self._head_clock = None

    def _head_timed_out(self) -> None:
        self._head_clock = None
        if self.transport.is_closing() or not self._in_head:
            return
        if self._head_bytes == 0 and self._tail == b"":
            self.transport.close()  # an idle connection: nothing to answer
            return
        self._refuse(408, f"the request head did not arrive within {self.limits.timeout_s:g} s.")

    def _refuse(self, status: int, message: str) -> None:
        from steward.serving.errors import error_response

        self._refused = True
        self._stop_head_clock()
        if self.transport.is_closing():
            return
        body = bytes(error_response(status, message).body)
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger = self.loop.call_later(_LINGER_S, self.transport.close)
        else:
            self.transport.close()
