from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from staff.models import DataScope, Department, Role, User
from staff.scope import effective_scope, user_scopes


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(label=_("用户名或手机号"), max_length=150)
    password = serializers.CharField(label=_("密码"), max_length=128, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class DepartmentBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "path"]


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "name", "data_scope"]


class ContactFieldsMixin(serializers.Serializer):
    """Mobile and e-mail are null when empty (never ``""``, which is not an e-mail)."""

    mobile = serializers.CharField(read_only=True, allow_null=True)
    email = serializers.EmailField(read_only=True, allow_null=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["mobile"] = data.get("mobile") or None
        data["email"] = data.get("email") or None
        return data


class UserSerializer(ContactFieldsMixin, serializers.ModelSerializer):
    """A colleague in the staff directory. Mobile and e-mail are shown to the person themselves
    and to holders of ``staff.view_user``; to everyone else they are null."""

    department = DepartmentBriefSerializer(read_only=True, allow_null=True)
    manager = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "mobile", "email", "department", "manager", "is_active"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        viewer = getattr(request, "user", None)
        if viewer is None or (viewer.pk != instance.pk and not viewer.has_perm("staff.view_user")):
            data["mobile"] = None
            data["email"] = None
        return data


class MeSerializer(ContactFieldsMixin, serializers.ModelSerializer):
    department = DepartmentBriefSerializer(read_only=True, allow_null=True)
    manager = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    roles = RoleSerializer(many=True, read_only=True)
    data_scope = serializers.SerializerMethodField(help_text=_("最宽的数据范围"))
    data_scopes = serializers.SerializerMethodField(help_text=_("各角色的数据范围（取并集）"))
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "mobile",
            "email",
            "department",
            "manager",
            "roles",
            "data_scope",
            "data_scopes",
            "permissions",
            "is_superuser",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=DataScope.choices, allow_null=True))
    def get_data_scope(self, user):
        return effective_scope(user)

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=DataScope.choices)))
    def get_data_scopes(self, user):
        return sorted(user_scopes(user))

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_permissions(self, user):
        return sorted(user.get_all_permissions())


class DepartmentNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    parent = serializers.IntegerField(allow_null=True)
    leader = serializers.IntegerField(allow_null=True)
    depth = serializers.IntegerField()
    children = serializers.ListField(child=serializers.DictField())

    def to_representation(self, node):
        department = node["department"]
        return {
            "id": department.pk,
            "name": department.name,
            "parent": department.parent_id,
            "leader": department.leader_id,
            "depth": department.depth,
            "children": [self.to_representation(child) for child in node["children"]],
        }
