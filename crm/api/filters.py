import django_filters
from django.core.exceptions import ImproperlyConfigured


def scoped_choices(model):
    """A django-filter ``queryset`` callable: the rows of ``model`` the requesting user may see.
    An id outside scope is then "not a valid choice", exactly like an id that does not exist."""

    def queryset(request):
        user = getattr(request, "user", None)
        return model._default_manager.visible_to(user) if user is not None else model._default_manager.none()

    return queryset


def _is_scoped(model):
    return model is not None and hasattr(model._default_manager, "visible_to")


class ScopedModelChoiceFilter(django_filters.ModelChoiceFilter):
    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, queryset=scoped_choices(model), **kwargs)


class ScopedModelMultipleChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, queryset=scoped_choices(model), **kwargs)


class SyncFilterSet(django_filters.FilterSet):
    """Base FilterSet of every list.

    - ``updated_since`` returns rows changed at or after an ISO 8601 time (mini-program sync).
    - A filter on a foreign key to an owned model only accepts ids inside the caller's scope
      (generated filters get it automatically; a hand-declared one that does not is an error), so
      a filter cannot be used to learn that an out-of-scope record exists.
    """

    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):
        filter_class, params = super().filter_for_lookup(field, lookup_type)
        if "queryset" in params and _is_scoped(getattr(field, "related_model", None)):
            params = {**params, "queryset": scoped_choices(field.related_model)}
        return filter_class, params

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, filter_ in self.filters.items():
            queryset = getattr(filter_, "queryset", None)
            if queryset is not None and not callable(queryset) and _is_scoped(queryset.model):
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.{name} filters on {queryset.model.__name__} without scope; "
                    "use ScopedModelChoiceFilter(model=...)."
                )
