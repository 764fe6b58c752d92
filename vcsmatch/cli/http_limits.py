"""uvicorn's HTTP/1.1 protocols with a deadline and a size limit for every request's headers.

uvicorn closes a keep-alive connection that stays idle after a response, but it sets no limit
on a connection that opens and then sends nothing, or that trickles its request line and
headers a byte at a time ("slowloris"): each such connection holds a socket and a file
descriptor for as long as the client likes, and enough of them lock everyone else out.
Here every request's headers must arrive within ``header_timeout`` seconds (from the
connection opening, or from the first byte of the next request on a kept-alive connection);
otherwise the client gets a 408 problem and the connection is closed. The body has its own
deadline (``api.middleware.BodyLimitMiddleware``), so no part of a request can be sent
arbitrarily slowly. A request line and headers over ``MAX_HEADER_BYTES`` (h11's own limit,
16 KiB) are a 400 problem: llhttp, httptools' parser, sets no limit of its own.

Two parsers, one behaviour: httptools (llhttp, in C) when it is installed, the default, and
h11 (pure Python) otherwise. On the API's answer path httptools costs less CPU per request
(BENCHMARKS.md, issue 18). Errors uvicorn raises itself, before the app sees a request (a
malformed request line, oversized headers), are answered as problem JSON too, like every
other error.
"""

from __future__ import annotations

import asyncio
import json
from importlib.util import find_spec
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

PROBLEM_MEDIA_TYPE = b"application/problem+json"
#: The most bytes a request line and its headers may take (h11's default limit).
MAX_HEADER_BYTES = 16 * 1024


def _header_timeout() -> float:
    from vcsmatch.settings import get_settings

    return float(get_settings().body_timeout_seconds)


def _problem(status: int, title: str, detail: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()


def _problem_response(status: int, reason: str, detail: str) -> bytes:
    """A whole ``connection: close`` problem response, for writing straight to the socket."""
    body = _problem(status, reason, detail)
    return (
        f"HTTP/1.1 {status} {reason}\r\n".encode()
        + b"content-type: "
        + PROBLEM_MEDIA_TYPE
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n"
        + body
    )


class HeaderLimits:
    """The header deadline and size limit, for a uvicorn HTTP protocol class to mix in first.

    It relies on what both of uvicorn's protocols have: ``transport``, ``loop``, ``cycle``
    (the current request, ``None`` before the first) and ``data_received``; each parser's
    class says how it counts a request's head (``_headers_too_large``) and when it is awaiting
    one (``_awaiting_headers``).
    """

    #: Seconds a client has to send a request's line and headers: the same bound as for the
    #: body, ``Settings.body_timeout_seconds`` (read in each worker, from its environment).
    header_timeout: float = 30.0
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timeout = _header_timeout()
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self.transport.is_closing():
            return
        if self._headers_too_large(data):
            if self._in_request():
                # A pipelined request's headers, while an earlier answer is being written:
                # no problem document can go between its bytes, so the connection just closes.
                self._cancel_header_deadline()
                self.transport.close()
            else:
                detail = "The request line and headers are too large."
                self._close_with(400, "Bad Request", detail)
            return
        if self._in_request():
            self._cancel_header_deadline()  # headers complete: the app (and its body limit) rule
        elif self._header_deadline is None:
            self._arm_header_deadline()  # the first bytes of a next request on a kept connection

    def _headers_too_large(self, data: bytes) -> bool:
        """Whether the request line and headers being received, with ``data`` (just parsed),
        are over ``MAX_HEADER_BYTES``. Only bytes of a request's head count, never those of a
        body. The parser's class says; h11 keeps the limit itself."""
        return False

    def _awaiting_headers(self) -> bool:
        """Whether the parser is between requests or in one's headers (not in a body that the
        app answered without reading)."""
        return True

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_deadline(self) -> None:
        handle = getattr(self, "_header_deadline", None)
        if handle is not None:
            handle.cancel()
        self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._in_request() or self.transport.is_closing():
            return
        if not self._awaiting_headers():
            # The rest of a body the app answered without reading, still arriving after the
            # deadline: its answer has gone, so the connection just closes.
            self.transport.close()
            return
        detail = f"The request headers did not arrive within {self.header_timeout:g} seconds."
        self._close_with(408, "Request Timeout", detail)

    def _close_with(self, status: int, reason: str, detail: str) -> None:
        """Answer a problem and close. No request has started on this connection, so the
        parser has no response in flight: the bytes go straight to the socket."""
        self._cancel_header_deadline()
        self.transport.write(_problem_response(status, reason, detail))
        self.transport.close()


class HeaderDeadlineH11Protocol(HeaderLimits, H11Protocol):
    """``H11Protocol`` with ``HeaderLimits``. h11 refuses a head over its own
    ``max_incomplete_event_size`` (uvicorn's default: ``MAX_HEADER_BYTES``), pipelined ones
    included, so only the deadline is added."""

    def _awaiting_headers(self) -> bool:
        import h11

        return bool(self.conn.their_state is h11.IDLE)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 cannot parse, as a problem document."""
        import h11

        body = _problem(400, "Bad Request", msg)
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", PROBLEM_MEDIA_TYPE),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        try:
            start = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
            self.transport.write(self.conn.send(start) or b"")
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            pass  # a response had already started: just close
        self.transport.close()


#: ``vcsmatch serve``'s uvicorn ``http`` option for each parser (strings, so that the
#: supervisor can hand them to spawned workers).
PROTOCOLS = {
    "httptools": "vcsmatch.cli.http_limits_httptools:HeaderDeadlineHttpToolsProtocol",
    "h11": "vcsmatch.cli.http_limits:HeaderDeadlineH11Protocol",
}


def protocol(parser: str = "auto") -> str:
    """The ``http`` option for ``parser``: ``auto`` is httptools when installed, else h11."""
    if parser == "auto":
        parser = "httptools" if find_spec("httptools") is not None else "h11"
    return PROTOCOLS[parser]
