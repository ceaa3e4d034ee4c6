from datetime import UTC

import django_filters
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _


class IsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 with any offset Python accepts (up to ±23:59), handed to PostgreSQL in UTC: it
    takes offsets only up to ±15:59, and a time that falls off the calendar in UTC is a 400."""

    default_error_messages = {"out_of_range": _("日期时间超出可处理的范围。")}

    def to_python(self, value):
        result = super().to_python(value)
        if result is None or result.tzinfo is None:
            return result
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """The project's date-time filter: use it rather than django-filter's (see IsoDateTimeField)."""

    field_class = IsoDateTimeField


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

    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

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
