"""Deal, stage and report shapes for the mini-program. Input serializers only check types; the
rules (scope of the customer, stages, lost reasons, versions) run once, in the services."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.serializers import CrmModelSerializer, OwnedModelSerializer
from opportunities.models import LostReason, Opportunity, Stage, StageGroup, StageHistory

OPPORTUNITY_FIELDS = [
    "id", "customer", "title", "amount", "stage", "probability", "expected_close_date", "owner", "department",
    "source", "lost_reason", "won_at", "lost_at", "version",
]  # fmt: skip
STAGE_FIELDS = ["id", "group", "code", "name", "probability", "order", "color", "kind"]


class OpportunitySerializer(OwnedModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    stage_kind = serializers.CharField(source="stage.kind", read_only=True)
    owner_name = serializers.CharField(source="owner.display_name", read_only=True, default="")

    class Meta:
        model = Opportunity
        fields = [
            *OPPORTUNITY_FIELDS,
            "lost_note", "remark", "customer_name", "stage_name", "stage_kind", "owner_name",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class OpportunityWriteSerializer(serializers.Serializer):
    """Input of create and partial update (ids for customer, stage, source). ``stage`` only on
    create: a stage changes through ``move``."""

    customer = serializers.IntegerField(required=False)
    title = serializers.CharField(max_length=200, required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, min_value=0)
    stage = serializers.IntegerField(required=False)
    probability = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    expected_close_date = serializers.DateField(required=False, allow_null=True)
    source = serializers.IntegerField(required=False, allow_null=True)
    remark = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(required=False, help_text=_("修改时必填：读取时的版本号"))

    def validate(self, attrs):
        if self.partial and "version" not in attrs:
            raise serializers.ValidationError({"version": [_("请提供当前版本号 version。")]})
        if not self.partial:
            missing = {name: [_("这个字段是必填项。")] for name in ("customer", "title", "stage") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class MoveSerializer(serializers.Serializer):
    stage = serializers.IntegerField()
    version = serializers.IntegerField()
    lost_reason = serializers.IntegerField(required=False, allow_null=True, help_text=_("移到输单阶段时必填"))
    lost_note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class StageHistorySerializer(serializers.ModelSerializer):
    from_stage_name = serializers.CharField(source="from_stage.name", read_only=True, default=None)
    to_stage_name = serializers.CharField(source="to_stage.name", read_only=True)
    changed_by_name = serializers.CharField(source="changed_by.display_name", read_only=True, default="")

    class Meta:
        model = StageHistory
        fields = ["id", "from_stage", "to_stage", "from_stage_name", "to_stage_name", "changed_by",
                  "changed_by_name", "changed_at"]  # fmt: skip
        read_only_fields = fields


class StageSerializer(CrmModelSerializer):
    class Meta:
        model = Stage
        fields = STAGE_FIELDS

    def validate(self, attrs):
        if self.instance is not None and "group" in attrs and attrs["group"].pk != self.instance.group_id:
            raise serializers.ValidationError({"group": [_("阶段不能移到其他阶段组。")]})
        return attrs


class StageGroupSerializer(CrmModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = StageGroup
        fields = ["id", "name", "departments", "is_default", "order", "stages"]

    def validate(self, attrs):
        if attrs.get("is_default"):
            others = StageGroup.objects.filter(is_default=True)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise serializers.ValidationError({"is_default": [_("已有默认阶段组。")]})
        return attrs


class LostReasonSerializer(CrmModelSerializer):
    class Meta:
        model = LostReason
        fields = ["id", "name", "order", "is_active"]


class CardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    customer = serializers.IntegerField(source="customer_id")
    customer_name = serializers.CharField(source="customer.name")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    probability = serializers.IntegerField()
    expected_close_date = serializers.DateField(allow_null=True)
    owner = serializers.IntegerField(source="owner_id", allow_null=True)
    owner_name = serializers.CharField(source="owner.display_name", default="")
    stage = serializers.IntegerField(source="stage_id")
    version = serializers.IntegerField()


class ColumnSerializer(serializers.Serializer):
    stage = StageSerializer()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    weighted_amount = serializers.DecimalField(max_digits=16, decimal_places=2, source="weighted")
    cards = CardSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text=_("本列下一页：?stage=<id>&after=<next>"))


class BoardSerializer(serializers.Serializer):
    group = serializers.IntegerField(source="group.pk")
    columns = ColumnSerializer(many=True)


class ColumnPageSerializer(serializers.Serializer):
    stage = serializers.IntegerField(source="stage.pk")
    cards = CardSerializer(many=True)
    next = serializers.CharField(allow_null=True)


class FunnelStageSerializer(serializers.Serializer):
    stage = serializers.IntegerField(source="stage.pk")
    code = serializers.CharField(source="stage.code")
    name = serializers.CharField(source="stage.name")
    probability = serializers.IntegerField(source="stage.probability")
    count = serializers.IntegerField(help_text=_("到达该阶段的商机数（跳过的阶段也算到达）"))
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    weighted_amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    average_amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    conversion_rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    average_days = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)


class LossReasonSerializer(serializers.Serializer):
    reason = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class FunnelSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    stages = FunnelStageSerializer(many=True)
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    win_rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    average_won_amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    average_cycle_days = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    loss_reasons = LossReasonSerializer(many=True)


class ForecastMonthSerializer(serializers.Serializer):
    month = serializers.CharField(allow_null=True, help_text=_("YYYY-MM；null 为未填预计成交日期"))
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    weighted_amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class ForecastSerializer(serializers.Serializer):
    months = ForecastMonthSerializer(many=True)
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    weighted_amount = serializers.DecimalField(max_digits=16, decimal_places=2)
