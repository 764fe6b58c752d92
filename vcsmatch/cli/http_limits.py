"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for every request's headers.

uvicorn closes a keep-alive connection that stays idle after a response, but it sets no limit
on a connection that opens and then sends nothing, or that trickles its request line and
headers a byte at a time ("slowloris"): each such connection holds a socket and a file
descriptor for as long as the client likes, and enough of them lock everyone else out.
Here every request's headers must arrive within ``header_timeout`` seconds (from the
connection opening, or from the first byte of the next request on a kept-alive connection);
otherwise the client gets a 408 problem and the connection is closed. The body has its own
deadline (``api.middleware.BodyLimitMiddleware``), so no part of a request can be sent
arbitrarily slowly.

Errors uvicorn raises itself, before the app sees a request (a malformed request line, headers
over h11's 16 KiB limit), are answered as problem JSON too, like every other error.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.h11_impl import H11Protocol

#: What ``vcsmatch serve`` passes as uvicorn's ``http`` option (a string, so that the
#: supervisor can hand it to spawned workers).
PROTOCOL = "vcsmatch.cli.http_limits:HeaderDeadlineH11Protocol"
PROBLEM_MEDIA_TYPE = b"application/problem+json"


def _header_timeout() -> float:
    from vcsmatch.settings import get_settings

    return float(get_settings().body_timeout_seconds)


def _problem(status: int, title: str, detail: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()


class HeaderDeadlineH11Protocol(H11Protocol):
    """``H11Protocol`` plus a per-request header deadline (see the module docstring)."""

    #: Seconds a client has to send a request's line and headers: the same bound as for the
    #: body, ``Settings.body_timeout_seconds`` (read in each worker, from its environment).
    header_timeout: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timeout = _header_timeout()
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_request():
            self._cancel_header_deadline()  # headers complete: the app (and its body limit) rule
        elif self._header_deadline is None and not self.transport.is_closing():
            self._arm_header_deadline()  # the first bytes of a next request on a kept connection

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
        body = _problem(
            408,
            "Request Timeout",
            f"The request headers did not arrive within {self.header_timeout:g} seconds.",
        )
        # No request has started on this connection, so h11 has nothing in flight: write the
        # response bytes directly and close.
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\n"
            b"content-type: " + PROBLEM_MEDIA_TYPE + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"x-content-type-options: nosniff\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()

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
