"""One page of a list: the rows of a query a page at a time, so a page costs its rows however
large the table grows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import peewee

from appliance.core.errors import Invalid

Row = TypeVar("Row")
Selected = TypeVar("Selected", bound=peewee.Model)
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    page: int  # from 1
    pages: int
    total: int


def paginate(
    query: peewee.ModelSelect[Selected], page: int, page_size: int = PAGE_SIZE
) -> Page[Selected]:
    """The `page`th page (from 1; past the last, the last) of an ordered query."""
    if page < 1:
        raise Invalid("pages are numbered from 1")
    total = query.count()
    pages = max(1, -(-total // page_size))
    shown = min(page, pages)
    return Page(list(query.paginate(shown, page_size)), shown, pages, total)
