from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from staff.scope import PROTECTED_OWNERSHIP_FIELDS


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key the caller may only point at rows inside their own data scope. A row outside
    scope gets the same answer as one that does not exist."""

    default_error_messages = {"does_not_exist": _("对象不存在或无权访问。")}

    def __init__(self, *, model, **kwargs):
        self.model = model
        super().__init__(queryset=model._default_manager.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return self.model._default_manager.visible_to(user)


class OwnedModelSerializer(serializers.ModelSerializer):
    """Base serializer of owned records: owner, department and creator are always read-only here
    (they change only through services such as transfer), whatever a subclass declares."""

    def get_fields(self):
        fields = super().get_fields()
        for name in PROTECTED_OWNERSHIP_FIELDS:
            if name in fields and not fields[name].read_only:
                fields[name] = serializers.PrimaryKeyRelatedField(read_only=True)
        return fields
