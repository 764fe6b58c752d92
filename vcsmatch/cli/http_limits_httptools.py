"""uvicorn's httptools protocol with ``http_limits.HeaderLimits`` (its own module, so that
importing ``http_limits`` never needs httptools)."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vcsmatch.cli.http_limits import MAX_HEADER_BYTES, HeaderLimits


class HeaderDeadlineHttpToolsProtocol(HeaderLimits, HttpToolsProtocol):
    """``HttpToolsProtocol`` with ``HeaderLimits``; a request llhttp cannot parse is a 400
    problem document, as with h11.

    llhttp sets no limit on a request's head, so it is counted here, from the parser's own
    callbacks: the bytes received while it is between requests or in one's head, never those
    of a body (a body the app answered without reading may still be arriving). That holds
    for a pipelined request too, whose head is parsed while an earlier answer is in flight.
    """

    _head_bytes = 0  # bytes of the head being received
    _parsed_head_bytes = 0  # of those, the request line and whole headers llhttp handed over
    _in_body = False
    _message_ended = False  # a message ended in the bytes being parsed

    def _headers_too_large(self, data: bytes) -> bool:
        if self._in_body:
            self._head_bytes = 0
        elif self._message_ended:
            # The bytes also held the end of a message: count only the next one's head (its
            # header in progress, at most these bytes, is counted with the next ones).
            self._head_bytes = self._parsed_head_bytes
        else:
            self._head_bytes += len(data)
        self._message_ended = False
        return self._head_bytes > MAX_HEADER_BYTES

    def _awaiting_headers(self) -> bool:
        return not self._in_body

    def on_message_begin(self) -> None:
        self._parsed_head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._parsed_head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed_head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._message_ended = True
        self._parsed_head_bytes = 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._close_with(400, "Bad Request", msg)
