from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Stable cursors for the mini-program's infinite lists and offline sync: rows are walked by
    ``updated_at`` then ``id`` unless the client asks for another ordering."""

    ordering = ("-updated_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200
