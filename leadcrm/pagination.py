"""Pagination that never counts a whole table (PRODUCT L1: "1–50 of 10,000+").

The count is bounded: COUNT over at most BOUND + 1 rows, an index-only scan of fixed cost.
Past the bound, page numbers stay valid and "next" is offered while pages come back full.
"""

from functools import cached_property

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet

BOUND = 10_000
MAX_OFFSET = 2**62  # past any table, and inside the 64-bit integer an OFFSET must fit in


class BoundedPaginator(Paginator):
    bound = BOUND

    @cached_property
    def count(self) -> int:
        items = self.object_list
        # django-tables2 hands over its BoundRows; count on the queryset beneath them.
        queryset = getattr(getattr(items, "data", None), "data", None)
        if isinstance(queryset, QuerySet):
            items = queryset
        if isinstance(items, QuerySet):
            # No ORDER BY: any 10,001 rows will do, so the database may stop at the first ones.
            return items.order_by()[: self.bound + 1].count()
        return len(items[: self.bound + 1])

    @property
    def is_capped(self) -> bool:
        return self.count > self.bound

    @property
    def count_label(self) -> str:
        return f"{self.bound:,}+" if self.is_capped else f"{self.count:,}"

    def validate_number(self, number) -> int:
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not a whole number.") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1.")
        if self.is_capped:
            if (number - 1) * self.per_page > MAX_OFFSET:
                raise EmptyPage("That page number is too large.")
            return number  # beyond the bound: any page; an empty one just shows nothing
        return super().validate_number(number)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.is_capped and top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self.object_list[bottom:top], number, self)

    def _get_page(self, *args, **kwargs) -> "BoundedPage":
        return BoundedPage(*args, **kwargs)

    def page_range_around(self, number: int, width: int = 2) -> list[int | None]:
        """Page numbers to link around `number` (None marks a gap); past the bound, no last."""
        last = number + width if self.is_capped else self.num_pages
        pages = {1, *range(max(1, number - width), min(last, number + width) + 1)}
        if not self.is_capped:
            pages.add(last)
        shown: list[int | None] = []
        for page in sorted(pages):
            if shown and page - (shown[-1] or 0) > 1:
                shown.append(None)
            shown.append(page)
        return shown


class BoundedPage(Page):
    def has_next(self) -> bool:
        if self.paginator.is_capped:
            return len(self.object_list) == self.paginator.per_page
        return super().has_next()

    @property
    def range_label(self) -> str:
        """“1–50 of 10,000+”."""
        if not self.object_list:
            return f"0 of {self.paginator.count_label}"
        first = self.start_index()
        last = first + len(self.object_list) - 1
        return f"{first:,}–{last:,} of {self.paginator.count_label}"
