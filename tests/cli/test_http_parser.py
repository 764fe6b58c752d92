"""``vcsmatch serve``'s HTTP parser: httptools by default, h11 as the fallback."""

from __future__ import annotations

import importlib

import pytest

from vcsmatch.cli.http_limits import PROTOCOLS, HeaderLimits, protocol


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def test_auto_picks_httptools_when_it_is_installed() -> None:
    """httptools is a dependency, so the default server runs the C parser, not h11."""
    pytest.importorskip("httptools")
    assert protocol() == protocol("auto") == PROTOCOLS["httptools"]
    assert protocol("h11") == PROTOCOLS["h11"]


@pytest.mark.parametrize("parser", sorted(PROTOCOLS))
def test_every_parser_has_the_header_limits(parser: str) -> None:
    """Both protocol classes load by the name uvicorn is given and mix in the limits first,
    so the deadline and the size limit run before the parser sees any byte."""
    cls = _load(protocol(parser))
    assert cls.__mro__[1] is HeaderLimits
