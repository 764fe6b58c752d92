"""uvicorn's httptools protocol with ``http_limits.HeaderLimits`` (its own module, so that
importing ``http_limits`` never needs httptools)."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vcsmatch.cli.http_limits import HeaderLimits


class HeaderDeadlineHttpToolsProtocol(HeaderLimits, HttpToolsProtocol):
    """``HttpToolsProtocol`` with ``HeaderLimits``; a request llhttp cannot parse is a 400
    problem document, as with h11."""

    def send_400_response(self, msg: str) -> None:
        self._close_with(400, "Bad Request", msg)
