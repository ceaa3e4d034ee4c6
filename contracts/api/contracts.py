"""Products and contracts for the mini-program: shapes, and the viewsets that call the services.
Input serializers only check types; the rules (scope of customer, deal and signatory, editable
statuses, totals, versions) run once, in the services. ``total`` (and each line's ``subtotal``)
are always computed by the server: a value sent by the client is ignored.

State changes are actions: ``…/activate/``, ``…/complete/``, ``…/terminate/``, ``…/void/``,
``…/renew/``; ``POST contracts/from-opportunity/`` drafts a contract from a deal. Submission and
approval are the approvals module's actions."""

from django.db.models import ProtectedError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from contracts.models import Contract, ContractLine, Product
from contracts.selectors import contracts as selectors
from contracts.services import contracts as services
from crm.api.base import ScopedModelViewSet
from crm.api.pagination import CursorPagination
from crm.api.permissions import ReadAnyWriteModelPermissions
from crm.api.serializers import CrmModelSerializer, OwnedModelSerializer
from crm.errors import ConflictError, DomainError
from customers.api.views import CountedCursorPagination
from customers.selectors import PagedByRule, capped_count
from opportunities.models import Opportunity
from staff.scope import get_for_user

PRODUCT_FIELDS = ["id", "code", "name", "category", "unit", "price", "active"]
CONTRACT_FIELDS = [
    "id", "number", "customer", "opportunity", "title", "lines", "total", "signed_date", "start_date", "end_date",
    "owner", "signatory", "status", "paid", "outstanding", "version",
]  # fmt: skip
MONEY = {"max_digits": 14, "decimal_places": 2}
CONFLICT = OpenApiResponse(description=gettext_lazy("版本冲突：他人已修改"))

# --- products -----------------------------------------------------------------------------------


class ProductSerializer(CrmModelSerializer):
    class Meta:
        model = Product
        fields = PRODUCT_FIELDS
        # The code's uniqueness is the service's (one clear message, ``duplicate_code``).
        extra_kwargs = {"code": {"validators": []}}


class ProductViewSet(ScopedModelViewSet):
    """The product catalogue: everyone signed in reads it (every contract form needs it);
    creating and changing products needs ``contracts.add_product`` / ``change_product`` (admins).
    ``?active=true`` for the picker; ``?search=`` on code and name."""

    model = Product
    serializer_class = ProductSerializer
    permission_classes = [ReadAnyWriteModelPermissions]
    filterset_fields = ["active", "category"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "price", "updated_at", "id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_scoped_queryset(self, user):
        return selectors.product_list()

    def perform_create(self, serializer):
        serializer.instance = services.product_create(user=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.product_update(
            user=self.request.user, product=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, product):
        in_use = ConflictError(_("已有合同使用该产品，请改为停用。"), code="in_use")
        if ContractLine.objects.filter(product=product).exists():
            raise in_use
        try:
            product.delete()
        except ProtectedError:  # a line added meanwhile
            raise in_use from None


# --- contracts ----------------------------------------------------------------------------------


class ContractLineSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = ContractLine
        fields = ["product", "product_name", "quantity", "unit_price", "discount_rate", "subtotal"]
        read_only_fields = fields


class ContractSerializer(OwnedModelSerializer):
    lines = ContractLineSerializer(many=True, read_only=True)
    paid = serializers.DecimalField(source="paid_amount", read_only=True, **MONEY)
    outstanding = serializers.DecimalField(read_only=True, **MONEY)
    progress = serializers.DecimalField(
        max_digits=5, decimal_places=2, read_only=True, help_text=gettext_lazy("回款进度（%）")
    )
    invoiced = serializers.DecimalField(source="invoiced_amount", read_only=True, **MONEY)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner_name = serializers.CharField(source="owner.display_name", read_only=True, default="")
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Contract
        fields = [
            *CONTRACT_FIELDS,
            "department", "remark", "progress", "invoiced", "renewed_from", "customer_name", "owner_name",
            "status_label", "submitted_at", "approved_at", "voided_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class ContractLineWriteSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    quantity = serializers.DecimalField(**MONEY, min_value=0)
    unit_price = serializers.DecimalField(
        **MONEY, min_value=0, required=False, allow_null=True, help_text=gettext_lazy("留空为产品标准价")
    )
    discount_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        min_value=0,
        max_value=1,
        required=False,
        help_text=gettext_lazy("折扣率：减去的比例，0.10 即九折"),
    )


@extend_schema_field(ContractLineWriteSerializer(many=True))
class LinesField(serializers.ListField):
    """The lines as a list of objects (shape: ContractLineWriteSerializer). They are validated
    line by line by the service, whose errors come back as a list aligned with the lines:
    ``fields.lines = [{}, {"quantity": [...]}, …]``."""

    child = serializers.DictField()


class ContractWriteSerializer(serializers.Serializer):
    """Input of create and partial update. ``lines`` replace the lines as a whole when given;
    ``total`` is not an input (computed by the server)."""

    customer = serializers.IntegerField(required=False)
    opportunity = serializers.IntegerField(required=False, allow_null=True)
    title = serializers.CharField(max_length=200, required=False)
    lines = LinesField(required=False, max_length=500)
    signed_date = serializers.DateField(required=False, allow_null=True)
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    owner = serializers.IntegerField(required=False, allow_null=True, help_text=gettext_lazy("默认为自己"))
    signatory = serializers.IntegerField(required=False, allow_null=True)
    remark = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(required=False, help_text=gettext_lazy("修改时必填：读取时的版本号"))

    def validate(self, attrs):
        if self.partial and "version" not in attrs:
            raise serializers.ValidationError({"version": [_("请提供当前版本号 version。")]})
        if not self.partial:
            missing = {name: [_("这个字段是必填项。")] for name in ("customer", "title") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, help_text=gettext_lazy("可选：读取时的版本号，过期则 409"))


class FromOpportunitySerializer(serializers.Serializer):
    opportunity = serializers.IntegerField()
    product = serializers.IntegerField(
        required=False, allow_null=True, help_text=gettext_lazy("可选：商机金额作为该产品的一行明细")
    )


class ContractListPagination(CountedCursorPagination):
    """The contract list's pages counted and found rule by rule of the caller's scope
    (``ContractQuerySet.scope_arms``), each rule by its own index: with the scope's OR, PostgreSQL
    walked the whole table's newest changes and dropped the other departments' rows one by one
    (a department manager's list filtered by status and signing dates: 400,000 rows read for 20)."""

    def paginate_queryset(self, queryset, request, view=None):
        arms = Contract.objects.scope_arms(request.user) if view is not None and view.action == "list" else None
        self.count, self.count_capped = capped_count(queryset, arms=arms)
        if arms and len(arms) > 1:
            queryset = PagedByRule(queryset, arms)
        return CursorPagination.paginate_queryset(self, queryset, request, view)


class ContractViewSet(ScopedModelViewSet):
    """Contracts in the caller's data scope. Drafts (and rejected or withdrawn contracts) are
    changed with PATCH (``version`` required; 409 when stale; approved or later: 400
    ``read_only``) and deleted while drafts. Status changes are actions; illegal ones are 400
    ``illegal_transition``."""

    model = Contract
    serializer_class = ContractSerializer
    filterset_class = selectors.ContractFilterSet
    pagination_class = ContractListPagination
    ordering_fields = ["updated_at", "created_at", "total", "signed_date", "end_date", "id"]
    search_fields = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        "activate": ["contracts.change_contract"],
        "complete": ["contracts.change_contract"],
        "terminate": ["contracts.change_contract"],
        "void": ["contracts.change_contract"],
        "renew": ["contracts.add_contract"],
        "from_opportunity": ["contracts.add_contract"],
    }

    def get_scoped_queryset(self, user):
        return selectors.contract_queryset(user=user)

    def _respond(self, contract, status_code=status.HTTP_200_OK):
        contract = selectors.contract_get_for_user(user=self.request.user, pk=contract.pk)
        return Response(self.get_serializer(contract).data, status=status_code)

    @extend_schema(request=ContractWriteSerializer, responses={201: ContractSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ContractWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = services.contract_create(user=request.user, data=serializer.validated_data)
        return self._respond(contract, status.HTTP_201_CREATED)

    @extend_schema(request=ContractWriteSerializer, responses={200: ContractSerializer, 409: CONFLICT})
    def partial_update(self, request, *args, **kwargs):
        contract = self.get_object()
        serializer = ContractWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        services.contract_update(user=request.user, contract=contract, version=version, data=data)
        return self._respond(contract)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise DomainError(_("请使用 PATCH 修改合同。"), code="method_not_allowed", status=405)
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, contract):
        services.contract_delete(user=self.request.user, contract=contract, request=self.request)

    def _transition(self, request, service):
        contract = self.get_object()
        serializer = VersionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = service(user=request.user, contract=contract, version=serializer.validated_data.get("version"))
        return self._respond(changed)

    @extend_schema(request=VersionSerializer, responses={200: ContractSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """已通过 → 执行中."""
        return self._transition(request, services.contract_activate)

    @extend_schema(request=VersionSerializer, responses={200: ContractSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """执行中 → 已完成."""
        return self._transition(request, services.contract_complete)

    @extend_schema(request=VersionSerializer, responses={200: ContractSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        """执行中 → 已终止."""
        return self._transition(request, services.contract_terminate)

    @extend_schema(request=VersionSerializer, responses={200: ContractSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """作废 (from draft, rejected, withdrawn, approved or active); refused (400
        ``has_payments``) once confirmed payments exist."""
        return self._transition(request, services.contract_void)

    @extend_schema(request=None, responses={201: ContractSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        """续签: a new draft with the same lines and the next term's dates (start = this end + 1
        day, same length); 409 ``already_renewed`` while a renewal exists."""
        contract = self.get_object()
        renewal = services.contract_renew(user=request.user, contract=contract)
        return self._respond(renewal, status.HTTP_201_CREATED)

    @extend_schema(request=FromOpportunitySerializer, responses={201: ContractSerializer})
    @action(detail=False, methods=["post"], url_path="from-opportunity")
    def from_opportunity(self, request):
        """Draft a contract from a deal the caller sees (won or open): customer, deal, title,
        primary contact as signatory, the deal's owner; with ``product`` the deal amount becomes
        one line of that product."""
        serializer = FromOpportunitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        not_found = _("对象不存在或无权访问。")
        try:
            opportunity = get_for_user(
                Opportunity.objects.select_related("stage", "owner"), user=request.user, pk=data["opportunity"]
            )
        except Http404:  # answered like a bad field, as for any out-of-scope id
            raise DomainError(not_found, fields={"opportunity": [not_found]}) from None
        product = None
        if data.get("product") is not None:
            product = Product.objects.filter(pk=data["product"]).first()
            if product is None:
                raise DomainError(_("产品不存在。"), fields={"product": [_("产品不存在。")]})
        contract = services.contract_draft_from_opportunity(user=request.user, opportunity=opportunity, product=product)
        return self._respond(contract, status.HTTP_201_CREATED)
