"""Cursor pagination: stable pages while rows are added, and no COUNT(*) over a large table.

A malformed ``page_size`` is a 400 on its field, like any other bad input (DRF's default ignores it and
answers a page of another size). A cursor that is not one of the list's is a 404, as DRF has it: the page
it names does not exist (documented on every list by ``pulse.api.errors``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class Cursor(CursorPagination):
    """Pages ordered by id (unique and never changes); ``?page_size=`` from 1 to 200."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters


class TreeCursor(Cursor):
    """Teams in tree order: a parent before its subtree (the materialised path is unique)."""

    ordering = "path"
