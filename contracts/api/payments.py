"""API of payment plans, payments, invoice titles, invoices and the receivables report.

Routes (``contracts/api/payments_urls.py``), all under /api/v1/:

- ``payment-plans/`` list / retrieve instalments (filter ``?contract=``); ``POST payment-plans/set/``
  with ``{"contract": id, "instalments": [{number?, due_date, amount, reminder_days?, remark?}]}``
  replaces that contract's whole plan (an item with ``number`` updates the current instalment of
  that number, one without is new, instalments left out are removed) and answers the new plan.
- ``payments/`` list / retrieve / create; ``payments/{id}/confirm/``, ``…/reject/``, ``…/void/``
  (permission ``contracts.confirm_payment``).
- ``invoice-titles/`` CRUD (titles of the customers in scope); ``invoices/`` list / retrieve /
  create (apply) and ``invoices/{id}/issue/``, ``…/ship/``, ``…/void/``.
- ``reports/receivables/?group=customer|owner|ageing&owner=&department=``.

Plans, payments and invoices are scoped through their contract, titles through their customer;
the serializers only shape data, the rules are in ``contracts.services.payments`` / ``invoices``.
"""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from contracts.models import (
    Contract,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    InvoiceTitle,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentStatus,
    PlanStatus,
)
from contracts.selectors import payments as selectors
from contracts.services import invoices as invoice_services
from contracts.services import payments as payment_services
from crm.api.base import ScopedGenericViewSet, ScopedModelViewSet, ScopedReadOnlyViewSet
from crm.api.filters import ScopedModelChoiceFilter, SyncFilterSet
from crm.api.serializers import CrmModelSerializer, ScopedPrimaryKeyRelatedField
from crm.errors import DomainError
from customers.api.views import CountedCursorPagination
from customers.models import Customer
from staff.models import Department, User

MONEY_FIELD = {"max_digits": 14, "decimal_places": 2}
REPORT_GROUPS = ("customer", "owner", "ageing")
# Rows by customer: the largest receivables first, this many unless ``limit`` says otherwise (a
# department has thousands of customers owing money; a phone shows the top of the list).
REPORT_ROWS_DEFAULT, REPORT_ROWS_MAX = 100, 1000

# --- serializers --------------------------------------------------------------------------------


class PaymentPlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentPlan
        fields = [
            "id", "contract", "number", "due_date", "amount", "reminder_days", "paid_amount", "status", "remark",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class InstalmentInputSerializer(serializers.Serializer):
    number = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text=_("现有分期的期次（修改该期）；新增的分期不填")
    )
    due_date = serializers.DateField()
    amount = serializers.DecimalField(**MONEY_FIELD, min_value=0)
    reminder_days = serializers.IntegerField(required=False, min_value=0, max_value=365, default=3)
    remark = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class PlanSetSerializer(serializers.Serializer):
    contract = ScopedPrimaryKeyRelatedField(model=Contract)
    instalments = InstalmentInputSerializer(many=True, help_text=_("整个回款计划；各期金额之和须等于合同金额"))


class PaymentSerializer(serializers.ModelSerializer):
    confirmed = serializers.BooleanField(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id", "contract", "plan", "amount", "date", "method", "confirmed",
            "status", "entered_by", "confirmed_by", "confirmed_at", "remark",
        ]  # fmt: skip
        read_only_fields = fields


class PaymentWriteSerializer(serializers.Serializer):
    contract = ScopedPrimaryKeyRelatedField(model=Contract)
    plan = ScopedPrimaryKeyRelatedField(model=PaymentPlan, required=False, allow_null=True)
    amount = serializers.DecimalField(**MONEY_FIELD)
    date = serializers.DateField()
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    remark = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class RejectSerializer(serializers.Serializer):
    remark = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class InvoiceTitleSerializer(CrmModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(model=Customer)

    class Meta:
        model = InvoiceTitle
        fields = [
            "id", "customer", "title", "tax_number", "bank", "account", "address", "phone", "is_default",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"tax_number": {"help_text": _("18 位统一社会信用代码（或旧税号）")}}
        # One default per customer is the service's rule (a new default takes over), not a 400.
        validators = []


class InvoiceTitleUpdateSerializer(InvoiceTitleSerializer):
    customer = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(InvoiceTitleSerializer.Meta):
        read_only_fields = ["id", "customer", "created_at", "updated_at"]


class InvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = [
            "id", "contract", "invoice_title", "title", "tax_number", "bank", "account", "address", "phone",
            "kind", "amount", "status", "number", "issued_date", "tracking_number", "remark", "applied_by",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class InvoiceTitleField(serializers.PrimaryKeyRelatedField):
    """An invoice title of a customer in the caller's scope (others answer like missing ones)."""

    default_error_messages = {"does_not_exist": _("对象不存在或无权访问。")}

    def get_queryset(self):
        request = self.context.get("request")
        return selectors.invoice_title_list(user=getattr(request, "user", None))


class InvoiceApplySerializer(serializers.Serializer):
    contract = ScopedPrimaryKeyRelatedField(model=Contract)
    invoice_title = InvoiceTitleField(queryset=InvoiceTitle.objects.none())
    amount = serializers.DecimalField(**MONEY_FIELD)
    kind = serializers.ChoiceField(choices=InvoiceKind.choices, default=InvoiceKind.NORMAL)
    remark = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class InvoiceIssueSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40)
    issued_date = serializers.DateField()


class InvoiceShipSerializer(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=50)


class ReceivableSummarySerializer(serializers.Serializer):
    contracts = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=18, decimal_places=2)
    paid = serializers.DecimalField(max_digits=18, decimal_places=2)
    receivable = serializers.DecimalField(max_digits=18, decimal_places=2)
    overdue = serializers.DecimalField(max_digits=18, decimal_places=2)


class ReceivableRowSerializer(serializers.Serializer):
    key = serializers.IntegerField(allow_null=True, help_text=_("客户或负责人 id"))
    name = serializers.CharField()
    contracts = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=18, decimal_places=2)
    paid = serializers.DecimalField(max_digits=18, decimal_places=2)
    receivable = serializers.DecimalField(max_digits=18, decimal_places=2)


class AgeingBucketSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=[key for key, _first, _last in selectors.AGEING_BUCKETS])
    count = serializers.IntegerField(help_text=_("逾期分期数"))
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, help_text=_("逾期未回款金额"))


class ReceivablesReportSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=REPORT_GROUPS)
    summary = ReceivableSummarySerializer()
    rows = ReceivableRowSerializer(many=True, help_text=_("按客户或负责人的应收（group=ageing 时为空）"))
    ageing = AgeingBucketSerializer(many=True, help_text=_("逾期账龄：0–30 / 31–60 / 61–90 / 90+ 天"))


# --- filters ------------------------------------------------------------------------------------


def _department_subtree(field):
    def method(queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(**{f"{field}__path__startswith": value.path})

    return method


class PaymentPlanFilterSet(SyncFilterSet):
    contract = ScopedModelChoiceFilter(model=Contract, label=_("合同"))
    status = django_filters.MultipleChoiceFilter(choices=PlanStatus.choices, label=_("状态"))
    due = django_filters.DateFromToRangeFilter(field_name="due_date", label=_("计划回款日期"))

    class Meta:
        model = PaymentPlan
        fields = []


class PaymentFilterSet(SyncFilterSet):
    contract = ScopedModelChoiceFilter(model=Contract, label=_("合同"))
    customer = ScopedModelChoiceFilter(model=Customer, field_name="contract__customer", label=_("客户"))
    status = django_filters.MultipleChoiceFilter(choices=PaymentStatus.choices, label=_("状态"))
    method = django_filters.ChoiceFilter(choices=PaymentMethod.choices, label=_("回款方式"))
    confirmed = django_filters.BooleanFilter(method="filter_confirmed", label=_("已确认"))
    date = django_filters.DateFromToRangeFilter(field_name="date", label=_("回款日期"))
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all(), field_name="owner", label=_("负责人"))

    class Meta:
        model = Payment
        fields = []

    def filter_confirmed(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(status=PaymentStatus.CONFIRMED)
        return queryset.exclude(status=PaymentStatus.CONFIRMED)


class InvoiceTitleFilterSet(SyncFilterSet):
    customer = ScopedModelChoiceFilter(model=Customer, label=_("客户"))

    class Meta:
        model = InvoiceTitle
        fields = []


class InvoiceFilterSet(SyncFilterSet):
    contract = ScopedModelChoiceFilter(model=Contract, label=_("合同"))
    customer = ScopedModelChoiceFilter(model=Customer, field_name="contract__customer", label=_("客户"))
    status = django_filters.MultipleChoiceFilter(choices=InvoiceStatus.choices, label=_("状态"))
    kind = django_filters.ChoiceFilter(choices=InvoiceKind.choices, label=_("发票类型"))

    class Meta:
        model = Invoice
        fields = []


class ReceivablesFilterSet(django_filters.FilterSet):
    """Filters of the receivables report (API and page): owner(s), department with the ones below."""

    owner = django_filters.ModelMultipleChoiceFilter(queryset=User.objects.all(), distinct=False, label=_("负责人"))
    department = django_filters.ModelChoiceFilter(
        queryset=Department.objects.all(), method=_department_subtree("department"), label=_("部门（含下级）")
    )

    class Meta:
        model = Contract
        fields = []


# --- viewsets -----------------------------------------------------------------------------------


def _invalid_filters(filterset):
    return DomainError(_("筛选条件有误。"), fields={name: list(errors) for name, errors in filterset.errors.items()})


class PaymentPlanViewSet(ScopedReadOnlyViewSet):
    """Instalments (回款计划) of the contracts in the caller's scope; ``set`` replaces a contract's
    whole plan."""

    model = PaymentPlan
    serializer_class = PaymentPlanSerializer
    filterset_class = PaymentPlanFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "due_date", "id"]
    search_fields = []
    action_permissions = {"set_plan": ["contracts.change_paymentplan"]}

    def get_scoped_queryset(self, user):
        return selectors.payment_plan_list(user=user)

    @extend_schema(request=PlanSetSerializer, responses={200: PaymentPlanSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="set", url_name="set")
    def set_plan(self, request):
        """Replace the contract's payment plan as a whole: the instalments' amounts must add up to
        the contract total (a 400 names the difference); an instalment with confirmed payments can
        be neither removed nor lowered below what is paid."""
        serializer = PlanSetSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        plans = payment_services.payment_plan_set(
            user=request.user, contract=data["contract"], instalments=[dict(item) for item in data["instalments"]]
        )
        return Response(PaymentPlanSerializer(plans, many=True).data)


class PaymentViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Payments (回款) on the contracts in the caller's scope. New ones are 待确认; ``confirm``,
    ``reject`` and ``void`` need ``contracts.confirm_payment``. No edit or delete: void and
    re-enter."""

    model = Payment
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "date", "amount", "id"]
    search_fields = []
    action_permissions = {
        "confirm": ["contracts.confirm_payment"],
        "reject": ["contracts.confirm_payment"],
        "void": ["contracts.confirm_payment"],
    }

    def get_scoped_queryset(self, user):
        return selectors.payment_list(user=user)

    def _respond(self, payment, status_code=status.HTTP_200_OK):
        payment = selectors.payment_get_for_user(user=self.request.user, pk=payment.pk)
        return Response(PaymentSerializer(payment).data, status=status_code)

    @extend_schema(request=PaymentWriteSerializer, responses={201: PaymentSerializer})
    def create(self, request, *args, **kwargs):
        """Record a payment against an approved (not void) contract; refused above what is open
        on the contract (total − confirmed − payments awaiting confirmation)."""
        serializer = PaymentWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        payment = payment_services.payment_create(user=request.user, **serializer.validated_data)
        return self._respond(payment, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: PaymentSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm the payment: it then counts towards the contract's and instalment's paid amounts."""
        payment = payment_services.payment_confirm(user=request.user, payment=self.get_object())
        return self._respond(payment)

    @extend_schema(request=RejectSerializer, responses={200: PaymentSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        serializer = RejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_services.payment_reject(
            user=request.user, payment=self.get_object(), remark=serializer.validated_data["remark"]
        )
        return self._respond(payment)

    @extend_schema(request=None, responses={200: PaymentSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """Void the payment; a confirmed one comes off the paid amounts again."""
        payment = payment_services.payment_void(user=request.user, payment=self.get_object())
        return self._respond(payment)


class InvoiceTitleViewSet(ScopedModelViewSet):
    """Invoice titles (开票信息) of the customers in the caller's scope; one default per customer."""

    model = InvoiceTitle
    serializer_class = InvoiceTitleSerializer
    filterset_class = InvoiceTitleFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "id"]
    search_fields = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_scoped_queryset(self, user):
        return selectors.invoice_title_list(user=user)

    def get_serializer_class(self):
        if self.action == "partial_update":
            return InvoiceTitleUpdateSerializer
        return InvoiceTitleSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        customer = data.pop("customer")
        serializer.instance = invoice_services.invoice_title_create(
            user=self.request.user, customer=customer, data=data
        )

    def perform_update(self, serializer):
        serializer.instance = invoice_services.invoice_title_update(
            user=self.request.user, invoice_title=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance):
        invoice_services.invoice_title_delete(user=self.request.user, invoice_title=instance)


class InvoiceViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Invoices (发票) of the contracts in the caller's scope: apply (create), ``issue`` (number and
    date), ``ship`` (courier tracking number), ``void``."""

    model = Invoice
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilterSet
    pagination_class = CountedCursorPagination
    ordering_fields = ["updated_at", "created_at", "amount", "id"]
    search_fields = []
    action_permissions = {
        "issue": ["contracts.change_invoice"],
        "ship": ["contracts.change_invoice"],
        "void": ["contracts.change_invoice"],
    }

    def get_scoped_queryset(self, user):
        return selectors.invoice_list(user=user)

    def _respond(self, invoice, status_code=status.HTTP_200_OK):
        invoice = selectors.invoice_get_for_user(user=self.request.user, pk=invoice.pk)
        return Response(InvoiceSerializer(invoice).data, status=status_code)

    @extend_schema(request=InvoiceApplySerializer, responses={201: InvoiceSerializer})
    def create(self, request, *args, **kwargs):
        """Apply for an invoice with one of the customer's titles (its details are copied); the
        contract's invoices never add up to more than its total."""
        serializer = InvoiceApplySerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        invoice = invoice_services.invoice_apply(user=request.user, **serializer.validated_data)
        return self._respond(invoice, status.HTTP_201_CREATED)

    @extend_schema(request=InvoiceIssueSerializer, responses={200: InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        serializer = InvoiceIssueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_services.invoice_issue(
            user=request.user, invoice=self.get_object(), **serializer.validated_data
        )
        return self._respond(invoice)

    @extend_schema(request=InvoiceShipSerializer, responses={200: InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        serializer = InvoiceShipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_services.invoice_ship(
            user=request.user, invoice=self.get_object(), **serializer.validated_data
        )
        return self._respond(invoice)

    @extend_schema(request=None, responses={200: InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        invoice = invoice_services.invoice_void(user=request.user, invoice=self.get_object())
        return self._respond(invoice)


def receivables_filtered(request, params):
    """The receivable contracts of the requesting user narrowed by the report filters, or a 400."""
    filterset = ReceivablesFilterSet(
        data=params, queryset=selectors.receivable_contracts(user=request.user), request=request
    )
    if not filterset.is_valid():
        raise _invalid_filters(filterset)
    return filterset.qs


class ReceivablesReportViewSet(ScopedGenericViewSet):
    """应收款报表: receivable = contract total − confirmed payments, over the approved-or-later,
    non-void contracts in the caller's scope."""

    model = Contract
    pagination_class = None
    filter_backends = []

    def get_scoped_queryset(self, user):
        return selectors.receivable_contracts(user=user)

    @extend_schema(
        parameters=[
            OpenApiParameter("group", str, enum=list(REPORT_GROUPS), description=_("分组：客户 / 负责人 / 账龄")),
            OpenApiParameter("owner", int, many=True, description=_("负责人")),
            OpenApiParameter("department", int, description=_("部门（含下级）")),
            OpenApiParameter(
                "limit",
                int,
                description=_("按客户分组时最多返回的行数（应收最多者在前），默认 %(default)d，最大 %(max)d")
                % {"default": REPORT_ROWS_DEFAULT, "max": REPORT_ROWS_MAX},
            ),
        ],
        responses=ReceivablesReportSerializer,
    )
    @action(detail=False, methods=["get"])
    def receivables(self, request):
        """Summary (contracts, total, paid, receivable, overdue), rows by customer (the first
        ``limit``) or owner (largest receivable first), and the overdue ageing buckets 0–30 / 31–60 / 61–90 / 90+
        days: each overdue instalment's unpaid remainder — confirmed payments settle the oldest
        instalments first — aged from its due date."""
        group = request.query_params.get("group") or "customer"
        if group not in REPORT_GROUPS:
            raise DomainError(_("分组参数无效。"), fields={"group": [_("应为 customer、owner 或 ageing。")]})
        limit = serializers.IntegerField(min_value=1, max_value=REPORT_ROWS_MAX)
        try:
            limit = limit.run_validation(request.query_params.get("limit") or REPORT_ROWS_DEFAULT)
        except serializers.ValidationError as error:
            raise DomainError(_("行数参数无效。"), fields={"limit": list(error.detail)}) from None
        contracts = receivables_filtered(request, request.query_params)
        report = selectors.receivables_report(contracts=contracts, group=group, today=timezone.localdate(), limit=limit)
        return Response(ReceivablesReportSerializer(report).data)
