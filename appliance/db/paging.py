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


MAX_CURSOR_LIMIT = 100


def after_cursor(
    query: peewee.ModelSelect[Selected], id_field: peewee.Field, after: int, limit: int
) -> tuple[list[Selected], int | None]:
    """Rows with ids above `after`, in id order, at most `limit`, and the cursor for the next
    page (None on the last). Rows added while a client pages have higher ids, so it misses none
    and sees none twice."""
    if not 1 <= limit <= MAX_CURSOR_LIMIT:
        raise Invalid(f"limit: between 1 and {MAX_CURSOR_LIMIT}")
    found = list(query.where(id_field > after).order_by(id_field).limit(limit + 1))
    more = len(found) > limit
    found = found[:limit]
    return found, (int(getattr(found[-1], id_field.name)) if more and found else None)
