import django_filters


class SyncFilterSet(django_filters.FilterSet):
    """Base FilterSet of every list: ``updated_since`` returns rows changed at or after an ISO
    8601 time, for the mini-program's incremental sync."""

    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
