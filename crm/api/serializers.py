"""Serializer bases. Every model serializer extends ``CrmModelSerializer`` (owned records:
``OwnedModelSerializer``), so a foreign key to an owned model can only point inside the caller's
data scope, whether the developer declared the field or ModelSerializer generated it."""

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from staff.scope import PROTECTED_OWNERSHIP_FIELDS


def _is_scoped(queryset):
    return queryset is not None and hasattr(queryset, "visible_to")


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key the caller may only point at rows inside their own data scope. A row outside
    scope gets the same answer as one that does not exist. ``model=`` is a shortcut for
    ``queryset=model.objects.all()``; models without a scope are left as they are."""

    default_error_messages = {"does_not_exist": _("对象不存在或无权访问。")}

    def __init__(self, *, model=None, **kwargs):
        if model is not None and not kwargs.get("read_only"):
            kwargs["queryset"] = model._default_manager.all()
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        if not _is_scoped(queryset):
            return queryset
        request = self.context.get("request")
        return queryset.visible_to(getattr(request, "user", None))


def _relations(field):
    if isinstance(field, serializers.ManyRelatedField):
        return [field.child_relation]
    if isinstance(field, serializers.RelatedField):
        return [field]
    return []


class CrmModelSerializer(serializers.ModelSerializer):
    serializer_related_field = ScopedPrimaryKeyRelatedField

    def get_fields(self):
        fields = super().get_fields()
        for name, field in fields.items():
            if field.read_only:
                continue
            for relation in _relations(field):
                if _is_scoped(relation.queryset) and not isinstance(relation, ScopedPrimaryKeyRelatedField):
                    raise ImproperlyConfigured(
                        f"{type(self).__name__}.{name} is a writable relation to an owned model without scope; "
                        "use ScopedPrimaryKeyRelatedField."
                    )
        return fields


class OwnedModelSerializer(CrmModelSerializer):
    """Base serializer of owned records: owner, department and creator are always read-only here
    (they change only through services such as transfer), whatever a subclass declares — by field
    name or by ``source``."""

    def get_fields(self):
        fields = super().get_fields()
        for name, field in list(fields.items()):
            source = (field.source or name).split(".")[0]
            if (name in PROTECTED_OWNERSHIP_FIELDS or source in PROTECTED_OWNERSHIP_FIELDS) and not field.read_only:
                fields[name] = serializers.PrimaryKeyRelatedField(read_only=True, source=field.source)
        return fields
