"""Cursor pagination: stable pages while rows are added, and no COUNT(*) over a large table."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """Pages ordered by id (unique and never changes); ``?page_size=`` up to 200."""

    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class TreeCursor(Cursor):
    """Teams in tree order: a parent before its subtree (the materialised path is unique)."""

    ordering = "path"
