"""Paging through an answer: its JSON, its records and the request for its next page.

An answer is a JSON array, or an object holding the list under `content`, `data`,
`items` or `elements`; the next page comes from a `Link: <...>; rel="next"` header or
from Spring-style `last`/`number`/`totalPages` fields. dlt's paginators each know one
of these (`HeaderLinkPaginator`, `PageNumberPaginator`) and its `RESTClient.paginate`
decodes with `response.json()` and wraps an unknown shape in a list: the rule here
(the header wins, else the body; an unknown shape is an error) is ours, kept pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from batisync.loader.api.errors import ApiError

LIST_KEYS = ("content", "data", "items", "elements")
MAX_PAGES = 100_000  # per request: beyond this the pagination is looping


def decode(content: bytes, path: str) -> Any:
    """The answer's JSON. orjson refuses valid JSON that one record can hold (a number
    beyond a double, a lone surrogate escape): the standard library reads those, and
    the record checks then quarantine the record instead of the answer failing."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(f"GET {path}: the answer is not JSON") from None


def page_items(body: Any) -> list[Any] | None:
    """The records of one answer, or None when the shape is unknown."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for key in LIST_KEYS:
            if isinstance(body.get(key), list):
                return body[key]
    return None


def next_page(
    url: str, params: Mapping[str, Any] | None, link_next: str | None, body: Any
) -> tuple[str, dict[str, Any] | None] | None:
    """The request for the next page, or None when this was the last one.

    A `Link rel="next"` header wins (its URL carries the query); otherwise a Spring-style
    body that says it is not the last page asks for `page = number + 1`.
    """
    if link_next:
        return urljoin(url, link_next), None
    if not isinstance(body, Mapping):
        return None
    number = body.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        number = int((params or {}).get("page", 0))
    last = body.get("last")
    total_pages = body.get("totalPages")
    if last is False or (
        last is None and isinstance(total_pages, int) and number + 1 < total_pages
    ):
        return url, {**(params or {}), "page": number + 1}
    return None


Get = Callable[[str, Mapping[str, Any] | None], requests.Response]


def walk(url: str, params: Mapping[str, Any] | None, get: Get) -> Iterator[list[Any]]:
    """The records of every page from `get(url, params)` on, page by page; a page asked
    twice (a loop) or more than `MAX_PAGES` pages is an error."""
    query: dict[str, Any] | None = dict(params) if params else None
    seen: set[tuple[str, tuple]] = set()
    for _ in range(MAX_PAGES):
        marker = (url, tuple(sorted((query or {}).items())))
        if marker in seen:
            raise ApiError(f"GET {urlsplit(url).path}: pagination points back to a seen page")
        seen.add(marker)
        response = get(url, query)
        body = decode(response.content, urlsplit(url).path)
        items = page_items(body)
        if items is None:
            raise ApiError(
                f"GET {urlsplit(url).path}: unexpected answer shape (neither a list nor "
                f"an object with {', '.join(LIST_KEYS)})"
            )
        following = next_page(response.url, query, response.links.get("next", {}).get("url"), body)
        # the answer's bytes and envelope go before its records are used: only the
        # records stay in memory (the caller clears them once they are rows)
        del response, body
        yield items
        if following is None:
            return
        url, query = following
    raise ApiError(f"GET {urlsplit(url).path}: more than {MAX_PAGES} pages")


__all__ = ["LIST_KEYS", "MAX_PAGES", "decode", "next_page", "page_items", "walk"]
