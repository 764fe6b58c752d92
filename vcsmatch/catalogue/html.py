"""HTML in published descriptions: a small safe subset for display, plain text for search.

Most real council feeds write descriptions in HTML (``<span>``, ``&nbsp;``, ``<font>``).
Search and ranking must see words, not tags, and a service page must never show a feed's
markup or run its scripts. nh3 (the maintained Rust ``ammonia`` sanitiser) does both.
"""

from __future__ import annotations

import html
import re

import nh3

#: What a service page may show of a feed's HTML: paragraphs, lists, emphasis and links.
DISPLAY_TAGS: frozenset[str] = frozenset(
    {"p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "a"}
)
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
_LOOKS_LIKE_HTML = re.compile(
    r"<(?:[a-zA-Z][a-zA-Z0-9]*\b[^>]*|/[a-zA-Z][a-zA-Z0-9]*\s*)>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);"
)
_BREAKS = re.compile(r"<\s*(?:br\s*/?|/p|/li|/div|/h[1-6]|/tr)\s*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def looks_like_html(text: str) -> bool:
    """True when ``text`` carries tags or character entities."""
    return bool(_LOOKS_LIKE_HTML.search(text))


def sanitise(text: str) -> str:
    """The HTML cut to ``DISPLAY_TAGS`` (links keep only ``href``, scripts and styles go)."""
    return nh3.clean(
        text,
        tags=set(DISPLAY_TAGS),
        attributes={"a": {"href"}},
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()


def to_text(text: str) -> str:
    """Plain text of an HTML fragment: tags dropped (block ends become line breaks),
    entities decoded, runs of spaces collapsed."""
    marked = _BREAKS.sub("\n", text)
    plain = html.unescape(nh3.clean(marked, tags=set()))
    lines = (_SPACES.sub(" ", line).strip() for line in plain.splitlines())
    return "\n".join(line for line in lines if line)
