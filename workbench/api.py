"""``GET /api/v1/workbench/``: the workbench's figures as JSON — the same ``workbench_figures`` the
page shows, each tile with the URL of its filtered list."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from workbench import selectors

MONEY = {"max_digits": 16, "decimal_places": 2}


class TileSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="行数：与 url 所指列表的行数相同")
    url = serializers.CharField(help_text="筛选好的列表页面")


class CappedTileSerializer(TileSerializer):
    capped = serializers.BooleanField(help_text="true：超过列表计数上限，count 为上限（显示为 10,000+）")


class TasksTileSerializer(TileSerializer):
    overdue = serializers.IntegerField()
    today = serializers.IntegerField()


class AmountTileSerializer(TileSerializer):
    amount = serializers.DecimalField(**MONEY)


class PipelineTileSerializer(AmountTileSerializer):
    weighted_amount = serializers.DecimalField(**MONEY)


class WorkbenchFunnelStageSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    weighted_amount = serializers.DecimalField(**MONEY)
    conversion_rate = serializers.DecimalField(max_digits=7, decimal_places=4, allow_null=True)


class WorkbenchFunnelSerializer(serializers.Serializer):
    group = serializers.CharField()
    stages = WorkbenchFunnelStageSerializer(many=True)
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    win_rate = serializers.DecimalField(max_digits=7, decimal_places=4, allow_null=True)
    url = serializers.CharField()


class MineSerializer(serializers.Serializer):
    """A tile is absent when the user may not open its list."""

    tasks = TasksTileSerializer(required=False)
    follow_ups_due = CappedTileSerializer(required=False)
    pool_returning = TileSerializer(required=False)
    approvals = TileSerializer(required=False)
    pipeline = PipelineTileSerializer(required=False)
    contracts_month = AmountTileSerializer(required=False)
    payments_month = AmountTileSerializer(required=False)
    notifications = TileSerializer(required=False)


class TeamSerializer(serializers.Serializer):
    follow_ups_due = CappedTileSerializer(required=False)
    pipeline = PipelineTileSerializer(required=False)
    contracts_month = AmountTileSerializer(required=False)
    payments_month = AmountTileSerializer(required=False)
    funnel = WorkbenchFunnelSerializer(required=False)


class WorkbenchSerializer(serializers.Serializer):
    today = serializers.DateField()
    month = serializers.CharField(help_text="YYYY-MM")
    scope = serializers.CharField(allow_null=True)
    is_manager = serializers.BooleanField()
    mine = MineSerializer()
    team = TeamSerializer(allow_null=True, help_text="经理（数据范围大于本人）可见：其全部数据范围内的同样指标")


class WorkbenchView(APIView):
    """The caller's workbench figures: theirs, and for a manager the team's (their data scope)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=WorkbenchSerializer)
    def get(self, request):
        return Response(WorkbenchSerializer(selectors.workbench_figures(user=request.user)).data)
