from django.core.exceptions import ValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound


class CursorPagination(pagination.CursorPagination):
    """Stable cursors for the mini-program's infinite lists and offline sync: rows are walked by
    ``updated_at`` then ``id`` unless the client asks for another ordering."""

    ordering = ("-updated_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, ValidationError) as error:
            # A cursor whose position does not fit the ordering field (crafted or stale).
            raise NotFound(self.invalid_cursor_message) from error
