"""Customer and contact shapes for the mini-program. Output is masked and filtered per viewer by
``customers.presenters``; input only checks types — the record's rules run in the services'
forms, once, for every caller."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from crm.api.serializers import CrmModelSerializer, OwnedModelSerializer, ScopedPrimaryKeyRelatedField
from customers import selectors
from customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomerLevel,
    CustomField,
    Industry,
    SavedView,
    Source,
    Tag,
)
from customers.presenters import Presenter
from staff.teams import TeamAccess

CUSTOMER_FIELDS = [
    "id", "name", "kind", "credit_code", "mobile", "phone", "email", "industry", "source", "level", "tags",
    "owner", "department", "province", "city", "district", "address", "website", "deal_status",
    "next_follow_up_at", "last_follow_up_at", "remark", "custom_fields", "version", "created_at", "updated_at",
]  # fmt: skip
CONTACT_FIELDS = ["id", "customer", "name", "title", "mobile", "email", "wechat", "birthday", "is_primary", "remark"]


class PlannedRepresentationMixin:
    """Output of a model serializer built straight from the instance's attributes, by a plan made
    once per class from its DRF fields — the same dict DRF's field-by-field path makes (a test
    compares them), without building ~30 field objects per request and calling two methods per
    field and row (about half the serializer's time on a page of 20 customers). Fields of a kind
    the plan does not know send the whole record through DRF's own path."""

    _plan = None

    @classmethod
    def _kind(cls, field):
        if isinstance(field, serializers.SerializerMethodField):
            return "method"
        if isinstance(field, serializers.ManyRelatedField):
            if type(field.child_relation) in (serializers.PrimaryKeyRelatedField, ScopedPrimaryKeyRelatedField):
                if field.child_relation.pk_field is None:
                    return "pks"
            return None
        if isinstance(field, serializers.PrimaryKeyRelatedField) and field.pk_field is None:
            return "pk" if len(field.source_attrs) == 1 else None
        if isinstance(field, serializers.DateTimeField):
            return "datetime" if getattr(field, "format", None) is None and not hasattr(field, "timezone") else None
        if type(field) in (serializers.CharField, serializers.EmailField, serializers.URLField):
            if len(field.source_attrs) == 1:
                return "value"
            # a.b.c: DRF gives the default when a link is missing (without one: other rules)
            return "path" if field.default is not empty and not callable(field.default) else None
        if type(field) in (
            serializers.IntegerField,
            serializers.BigIntegerField,
            serializers.BooleanField,
            serializers.ChoiceField,
        ):
            return "value" if len(field.source_attrs) == 1 else None
        if type(field) is serializers.JSONField and not field.binary:
            return "value" if len(field.source_attrs) == 1 else None
        return None

    @classmethod
    def _make_plan(cls, fields):
        plan = []
        for name, field in fields.items():
            if field.write_only:
                continue
            kind = cls._kind(field)
            if kind is None:
                return []  # something the plan does not know: DRF's path for every record
            if kind == "pk":
                model_field = cls.Meta.model._meta.get_field(field.source)
                plan.append((name, kind, model_field.attname))
            elif kind == "method":
                plan.append((name, kind, field.method_name))
            elif kind == "path":
                plan.append((name, kind, (tuple(field.source_attrs), field.default)))
            else:
                plan.append((name, kind, field.source))
        return plan

    def planned_representation(self, instance):
        cls = type(self)
        if cls.__dict__.get("_plan") is None:
            cls._plan = self._make_plan(self.fields)
        if not cls._plan:
            return serializers.ModelSerializer.to_representation(self, instance)
        data = {}
        for name, kind, source in cls._plan:
            if kind == "value" or kind == "pk":
                data[name] = getattr(instance, source)
            elif kind == "datetime":
                value = getattr(instance, source)
                data[name] = _DATETIME.to_representation(value) if value is not None else None
            elif kind == "pks":
                data[name] = [related.pk for related in getattr(instance, source).all()]
            elif kind == "method":
                data[name] = getattr(self, source)(instance)
            else:  # "path": a.b.c, the default when a link is missing (as DRF does)
                attrs, default = source
                value = instance
                for attr in attrs:
                    if value is None:
                        value = default
                        break
                    value = getattr(value, attr)
                data[name] = value
        return data


_DATETIME = serializers.DateTimeField()


def _presenter(serializer, target):
    cache = serializer.context.setdefault("presenters", {})
    if target not in cache:
        cache[target] = Presenter(serializer.context["request"].user, target)
    return cache[target]


class CustomerSerializer(PlannedRepresentationMixin, OwnedModelSerializer):
    tags = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    owner_name = serializers.CharField(source="owner.display_name", read_only=True, default="")
    contact_masked = serializers.SerializerMethodField(help_text=_("联系方式是否已脱敏（可用 reveal 查看完整号码）"))

    class Meta:
        model = Customer
        fields = [*CUSTOMER_FIELDS, "owner_name", "contact_masked"]
        read_only_fields = fields

    def _full(self, customer):
        cache = self.context.setdefault("full", {})
        if customer.pk not in cache:
            cache[customer.pk] = selectors.sees_full_contact(user=self.context["request"].user, customer=customer)
        return cache[customer.pk]

    @extend_schema_field(serializers.BooleanField())
    def get_contact_masked(self, customer):
        return not self._full(customer)

    def to_representation(self, customer):
        data = self.planned_representation(customer)
        return _presenter(self, "customer").record(data, full=self._full(customer))


class _JsonObjectField(serializers.DictField):
    pass


class SafeDateTimeField(serializers.DateTimeField):
    """A date-time whose time-zone conversion cannot overflow (0001-01-01 in Asia/Shanghai is
    before year 1): such input is a validation error, not a 500."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except (OverflowError, ValueError):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss][+HH:MM]")


class CustomerWriteSerializer(serializers.Serializer):
    """Input of create and partial update. Lookups (industry, source, level, tags) are ids."""

    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=CustomerKind.choices, required=False)
    credit_code = serializers.CharField(max_length=40, required=False, allow_blank=True)
    mobile = serializers.CharField(max_length=30, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    industry = serializers.IntegerField(required=False, allow_null=True)
    source = serializers.IntegerField(required=False, allow_null=True)
    level = serializers.IntegerField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.IntegerField(), required=False)
    province = serializers.CharField(max_length=6, required=False, allow_blank=True)
    city = serializers.CharField(max_length=6, required=False, allow_blank=True)
    district = serializers.CharField(max_length=6, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    website = serializers.CharField(max_length=200, required=False, allow_blank=True)
    next_follow_up_at = SafeDateTimeField(required=False, allow_null=True)
    remark = serializers.CharField(required=False, allow_blank=True)
    custom_fields = _JsonObjectField(required=False)
    version = serializers.IntegerField(required=False, help_text=_("修改时必填：读取时的版本号"))
    force = serializers.BooleanField(
        required=False, help_text=_("确认保存疑似重复的客户（需要“强制保存疑似重复的客户”权限）")
    )

    def validate(self, attrs):
        if self.partial and "version" not in attrs:
            raise serializers.ValidationError({"version": [_("请提供当前版本号 version。")]})
        if not self.partial and not attrs.get("name"):
            raise serializers.ValidationError({"name": [_("这个字段是必填项。")]})
        return attrs


class ContactSerializer(PlannedRepresentationMixin, CrmModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(model=Customer)

    class Meta:
        model = Contact
        fields = [*CONTACT_FIELDS, "custom_fields", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"custom_fields": {"required": False}}
        # Not DRF's validator for the one-primary-contact constraint: the service moves the flag.
        validators = []

    def to_representation(self, contact):
        data = self.planned_representation(contact)
        full = selectors.contact_sees_full(user=self.context["request"].user, contact=contact)
        return _presenter(self, "contact").record(data, full=full)

    def to_internal_value(self, data):
        # Type checks only (the contact form validates the rest); keep what was sent, by API name.
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("请求体应为 JSON 对象。")]})
        validated = {}
        if "customer" in data:
            try:
                validated["customer"] = self.fields["customer"].run_validation(data["customer"])
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"customer": error.detail}) from None
        elif not self.partial:
            raise serializers.ValidationError({"customer": [_("这个字段是必填项。")]})
        typed = ContactInputSerializer(data=data, partial=True)
        typed.is_valid(raise_exception=True)
        validated.update({name: data[name] for name in typed.validated_data})
        return validated


class ContactInputSerializer(serializers.Serializer):
    """The JSON types a contact's fields accept (values are validated by the contact form)."""

    name = serializers.CharField(max_length=50)
    title = serializers.CharField(max_length=50, allow_blank=True)
    mobile = serializers.CharField(max_length=30, allow_blank=True)
    email = serializers.CharField(max_length=254, allow_blank=True)
    wechat = serializers.CharField(max_length=50, allow_blank=True)
    birthday = serializers.DateField(allow_null=True)
    is_primary = serializers.BooleanField()
    remark = serializers.CharField(allow_blank=True)
    custom_fields = _JsonObjectField()


class TransferSerializer(serializers.Serializer):
    customers = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, max_length=1000)
    to_owner = serializers.IntegerField()
    reason = serializers.CharField(max_length=200)
    opportunities = serializers.BooleanField(default=False, help_text=_("未结商机一并转给新负责人"))
    tasks = serializers.BooleanField(default=False, help_text=_("未完成的待办一并转给新负责人"))
    contracts = serializers.BooleanField(
        default=False, help_text=_("未结束的合同（草稿、已通过、执行中等，审核中的除外）一并转给新负责人")
    )


class TeamMemberSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    user_name = serializers.CharField(read_only=True)
    access = serializers.ChoiceField(choices=TeamAccess.choices, default=TeamAccess.READ)
    expires_at = SafeDateTimeField(required=False, allow_null=True)
    granted_by = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, entry):
        return {
            "user": entry["user"].pk,
            "user_name": str(entry["user"]),
            "access": str(entry["access"]),
            "expires_at": serializers.DateTimeField().to_representation(entry["expires_at"])
            if entry["expires_at"]
            else None,
            "granted_by": entry["granted_by"].pk if entry["granted_by"] else None,
            "created_at": serializers.DateTimeField().to_representation(entry["created_at"]),
        }


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("字段名；自定义字段为 custom_fields.<key>"))
    label = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    old_display = serializers.CharField(help_text=_("可读的旧值（名称、选项文字、地区名）"))
    new_display = serializers.CharField()


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    user = serializers.IntegerField(allow_null=True)
    user_name = serializers.CharField()
    type = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    reason = serializers.CharField()
    changes = HistoryChangeSerializer(many=True)


class RevealSerializer(serializers.Serializer):
    mobile = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    contacts = serializers.ListField(child=serializers.DictField())


class DuplicateCheckSerializer(serializers.Serializer):
    """The record to check; blanks are ignored, a value that is not valid is an error."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=CustomerKind.choices, required=False)
    mobile = serializers.CharField(max_length=30, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    credit_code = serializers.CharField(max_length=40, required=False, allow_blank=True)
    exclude = serializers.IntegerField(required=False, help_text=_("编辑时：被编辑的客户自身"))

    def validate(self, attrs):
        from crm.validators import (
            CREDIT_CODE_MESSAGE,
            EMAIL_MESSAGE,
            MOBILE_MESSAGE,
            normalize_cn_mobile,
            normalize_credit_code,
            normalize_email,
        )

        checks = {
            "mobile": (normalize_cn_mobile, MOBILE_MESSAGE),
            "email": (normalize_email, EMAIL_MESSAGE),
            "credit_code": (normalize_credit_code, CREDIT_CODE_MESSAGE),
        }
        errors = {}
        for name, (normalize, message) in checks.items():
            if attrs.get(name):
                attrs[name] = normalize(attrs[name])
                if attrs[name] is None:
                    errors[name] = [message]
        if errors:
            raise serializers.ValidationError(errors)
        if not any(attrs.get(name) for name in ("name", "mobile", "email", "credit_code")):
            raise serializers.ValidationError(_("请至少填写名称、手机、邮箱或统一社会信用代码之一。"))
        return attrs


class DuplicateReasonSerializer(serializers.Serializer):
    field = serializers.ChoiceField(
        choices=["name", "mobile", "email", "credit_code", "contact_mobile", "contact_email"]
    )
    label = serializers.CharField()
    similarity = serializers.FloatField(help_text=_("名称相似度 0–1；精确匹配为 1"))


class DuplicateCandidateSerializer(serializers.Serializer):
    """A candidate as the caller may see it: outside their scope only ``in_scope``, name, owner or
    pool, department, last follow-up and reasons (撞单); within it also id, link and contact
    details (masked as elsewhere)."""

    in_scope = serializers.BooleanField()
    name = serializers.CharField()
    in_pool = serializers.BooleanField()
    owner_name = serializers.CharField()
    department_name = serializers.CharField()
    last_follow_up_at = serializers.DateTimeField(allow_null=True)
    reasons = DuplicateReasonSerializer(many=True)
    id = serializers.IntegerField(required=False)
    kind = serializers.CharField(required=False)
    url = serializers.CharField(required=False)
    mobile = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    contact_masked = serializers.BooleanField(required=False)
    primary_contact = serializers.DictField(required=False, allow_null=True)


class MergeSerializer(serializers.Serializer):
    other = serializers.IntegerField(help_text=_("被合并的客户（合并后进入回收站）"))
    version = serializers.IntegerField(help_text=_("保留客户的当前版本号"))
    other_version = serializers.IntegerField(help_text=_("被合并客户的当前版本号"))
    choices = serializers.DictField(
        child=serializers.ChoiceField(choices=["survivor", "other"]),
        required=False,
        help_text=_('逐字段选择保留哪一方的值，如 {"mobile": "other"}；自定义字段写作 custom_fields.<key>'),
    )
    values = _JsonObjectField(required=False, help_text=_("直接指定的字段值（优先于 choices）"))


class MergeRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    other_name = serializers.CharField()
    merged_by_name = serializers.CharField()
    merged_at = serializers.DateTimeField()
    fields_taken = serializers.ListField(child=serializers.CharField())
    moved = serializers.DictField(child=serializers.IntegerField())
    history = HistoryEntrySerializer(many=True)


class CustomerLevelSerializer(CrmModelSerializer):
    class Meta:
        model = CustomerLevel
        fields = ["id", "code", "name", "color", "priority"]


class TagSerializer(CrmModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "color"]


class SourceSerializer(CrmModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "name", "order", "is_active"]


class IndustrySerializer(CrmModelSerializer):
    class Meta:
        model = Industry
        fields = ["id", "name", "order", "is_active"]


class CustomFieldSerializer(CrmModelSerializer):
    class Meta:
        model = CustomField
        fields = [
            "id",
            "target",
            "key",
            "label",
            "type",
            "required",
            "choices",
            "regex",
            "help_text",
            "order",
            "is_active",
        ]

    def validate(self, attrs):
        current = self._current() if self.instance else {}
        instance = CustomField(pk=getattr(self.instance, "pk", None), **{**current, **attrs})
        instance.clean()  # choices for choice types, a valid regex, no clash with built-in names
        return attrs

    def _current(self):
        return {field: getattr(self.instance, field) for field in self.Meta.fields if field != "id"}


class SavedViewSerializer(CrmModelSerializer):
    class Meta:
        model = SavedView
        fields = ["id", "target", "name", "params", "created_at"]
        read_only_fields = ["id", "created_at"]
