from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api.base import ScopedGenericViewSet, ScopedModelViewSet
from crm.api.permissions import ReadAnyWriteModelPermissions
from crm.errors import ConflictError, DomainError
from customers.api.views import CountedCursorPagination
from opportunities import selectors, services
from opportunities.api.serializers import (
    BoardSerializer,
    ColumnPageSerializer,
    ForecastSerializer,
    FunnelSerializer,
    LostReasonSerializer,
    MoveSerializer,
    OpportunitySerializer,
    OpportunityWriteSerializer,
    StageGroupSerializer,
    StageHistorySerializer,
    StageSerializer,
)
from opportunities.filters import OpportunityFilterSet, ReportFilterSet
from opportunities.models import LostReason, Opportunity, Stage, StageGroup


def _group_from(request):
    """The stage group asked for (``?group=``), else the caller's department's pipeline."""
    raw = request.query_params.get("group")
    if raw:
        group = StageGroup.objects.filter(pk=raw).first() if str(raw).isdigit() else None
        if group is None:
            raise DomainError(_("阶段组不存在。"), fields={"group": [_("阶段组不存在。")]})
        return group
    return selectors.stage_group_for(request.user.department)


def _int_param(request, name, default, maximum):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not str(raw).isdigit() or not 1 <= int(raw) <= maximum:
        raise DomainError(_("参数无效。"), fields={name: [_("应为 1 到 %(max)s 的整数。") % {"max": maximum}]})
    return int(raw)


class OpportunityViewSet(ScopedModelViewSet):
    """Deals in the caller's data scope (and those shared with them). The stage changes through
    ``move`` (version required; 409 when stale), which writes the stage history."""

    model = Opportunity
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "created_at", "amount", "expected_close_date", "id"]
    search_fields = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        "move": ["opportunities.change_opportunity"],
        "board": ["opportunities.view_opportunity"],
        "history": ["opportunities.view_opportunity"],
    }

    def get_scoped_queryset(self, user):
        if self.action in ("list", "retrieve"):  # OpportunitySerializer reads customer, stage and owner
            return selectors.opportunity_list(user=user, lookups=selectors.API_LOOKUPS)
        return selectors.opportunity_list(user=user)

    def _respond(self, opportunity, status_code=status.HTTP_200_OK, **extra):
        opportunity = selectors.opportunity_get_for_user(user=self.request.user, pk=opportunity.pk)
        return Response({**self.get_serializer(opportunity).data, **extra}, status=status_code)

    @extend_schema(request=OpportunityWriteSerializer, responses={201: OpportunitySerializer})
    def create(self, request, *args, **kwargs):
        serializer = OpportunityWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        opportunity = services.opportunity_create(user=request.user, data=serializer.validated_data)
        return self._respond(opportunity, status.HTTP_201_CREATED)

    @extend_schema(
        request=OpportunityWriteSerializer,
        responses={200: OpportunitySerializer, 409: OpenApiResponse(description=_("版本冲突：他人已修改"))},
    )
    def partial_update(self, request, *args, **kwargs):
        opportunity = self.get_object()
        serializer = OpportunityWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        services.opportunity_update(user=request.user, opportunity=opportunity, version=version, data=data)
        return self._respond(opportunity)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise DomainError(_("请使用 PATCH 修改商机。"), code="method_not_allowed", status=405)
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, opportunity):
        services.opportunity_delete(user=self.request.user, opportunity=opportunity, request=self.request)

    @extend_schema(
        request=MoveSerializer,
        responses={200: OpportunitySerializer, 409: OpenApiResponse(description=_("版本冲突：他人已修改"))},
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the deal to another stage of its pipeline; a lost stage needs ``lost_reason``.
        The answer carries ``won_actions`` (what winning offers, e.g. a contract draft)."""
        opportunity = self.get_object()
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        stage = Stage.objects.filter(pk=data["stage"]).first()
        if stage is None:
            raise DomainError(_("阶段不存在。"), fields={"stage": [_("阶段不存在。")]})
        reason = None
        if data.get("lost_reason") is not None:
            reason = LostReason.objects.filter(pk=data["lost_reason"]).first()
            if reason is None:
                raise DomainError(_("输单原因不存在。"), fields={"lost_reason": [_("输单原因不存在。")]})
        moved, won_actions = services.opportunity_move(
            user=request.user,
            opportunity=opportunity,
            stage=stage,
            version=data["version"],
            lost_reason=reason,
            lost_note=data.get("lost_note", ""),
        )
        return self._respond(moved, won_actions=won_actions)

    @extend_schema(responses=StageHistorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        opportunity = self.get_object()
        return Response(StageHistorySerializer(selectors.stage_history(opportunity=opportunity), many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("group", int, description=_("阶段组（默认：本部门使用的阶段组）")),
            OpenApiParameter("page_size", int, description=_("每列卡片数（默认 20，最多 100）")),
            OpenApiParameter("stage", int, description=_("只取这一列的下一页（与 after 一起）")),
            OpenApiParameter("after", str, description=_("上一页返回的 next")),
        ],
        responses={200: BoardSerializer},
    )
    @action(detail=False, methods=["get"])
    def board(self, request):
        """The kanban board: a column per open stage, then won and lost, each with count, amount,
        weighted amount and its first cards; ``?stage=&after=`` pages one column."""
        deals = self.filter_queryset(self.get_queryset()).order_by()
        page_size = _int_param(request, "page_size", selectors.BOARD_PAGE_SIZE, selectors.BOARD_MAX_PAGE_SIZE)
        if request.query_params.get("stage"):
            raw = request.query_params["stage"]
            stage = Stage.objects.filter(pk=raw).first() if str(raw).isdigit() else None
            if stage is None:
                raise DomainError(_("阶段不存在。"), fields={"stage": [_("阶段不存在。")]})
            page = selectors.board_column(
                deals=deals, stage=stage, after=request.query_params.get("after"), page_size=page_size
            )
            return Response(ColumnPageSerializer({"stage": stage, **page}).data)
        group = _group_from(request)
        columns = selectors.board(deals=deals, group=group, page_size=page_size)
        return Response(BoardSerializer({"group": group, "columns": columns}).data)

    def paginate_queryset(self, queryset):
        if self.action == "board":
            return None
        return super().paginate_queryset(queryset)


class ReportViewSet(ScopedGenericViewSet):
    """Funnel analysis and forecast over the deals in the caller's scope."""

    model = Opportunity
    pagination_class = None
    filter_backends = []

    def get_scoped_queryset(self, user):
        return selectors.opportunity_list(user=user).order_by()

    def _deals(self, period_field):
        filterset = ReportFilterSet(
            data=self.request.query_params,
            queryset=self.get_queryset(),
            request=self.request,
            period_field=period_field,
        )
        if not filterset.is_valid():
            raise DomainError(
                _("筛选条件有误。"), fields={name: list(errors) for name, errors in filterset.errors.items()}
            )
        return filterset.qs

    @extend_schema(
        parameters=[
            OpenApiParameter("period_after", str, description=_("创建日期起 YYYY-MM-DD")),
            OpenApiParameter("period_before", str, description=_("创建日期止 YYYY-MM-DD")),
            OpenApiParameter("owner", int, many=True),
            OpenApiParameter("department", int, description=_("部门（含下级）")),
            OpenApiParameter("group", int),
        ],
        responses=FunnelSerializer,
    )
    @action(detail=False, methods=["get"])
    def funnel(self, request):
        """Per stage: deals that reached it (count, amount, weighted), conversion to the next
        stage, average amount and days; win rate, average won amount and cycle, loss reasons.
        The period selects deals created in it."""
        group = _group_from(request)
        result = selectors.funnel(deals=self._deals("created_at"), group=group)
        return Response(FunnelSerializer({"group": group.pk, **result}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("period_after", str, description=_("预计成交日期起 YYYY-MM-DD")),
            OpenApiParameter("period_before", str, description=_("预计成交日期止 YYYY-MM-DD")),
            OpenApiParameter("owner", int, many=True),
            OpenApiParameter("department", int, description=_("部门（含下级）")),
        ],
        responses=ForecastSerializer,
    )
    @action(detail=False, methods=["get"])
    def forecast(self, request):
        """Weighted open pipeline (amount × probability) by expected close month."""
        return Response(ForecastSerializer(selectors.forecast(deals=self._deals("expected_close_date"))).data)


class _ConfigViewSet(ScopedModelViewSet):
    """Company-wide configuration: everyone signed in reads it; changing it needs the model
    permission (admins)."""

    permission_classes = [ReadAnyWriteModelPermissions]
    pagination_class = None
    filter_backends = []

    def get_scoped_queryset(self, user):
        return self.model._default_manager.all()


class StageGroupViewSet(_ConfigViewSet):
    model = StageGroup
    serializer_class = StageGroupSerializer

    def get_scoped_queryset(self, user):
        return selectors.stage_groups()

    def perform_destroy(self, group):
        services.stage_group_delete(group=group)


class StageViewSet(_ConfigViewSet):
    model = Stage
    serializer_class = StageSerializer

    def perform_destroy(self, stage):
        try:
            services.stage_delete(stage=stage)
        except ProtectedError as error:  # a deal moved in meanwhile
            raise ConflictError(_("该阶段下有商机，不能删除。"), code="stage_in_use") from error


class LostReasonViewSet(_ConfigViewSet):
    model = LostReason
    serializer_class = LostReasonSerializer

    def perform_destroy(self, reason):
        try:
            reason.delete()
        except ProtectedError as error:
            raise ConflictError(_("已有商机使用该原因，请改为停用。"), code="in_use") from error
