"""我的审批 over the API, and the approval actions on a contract.

- ``GET /approvals/`` — my pending approval tasks (``?status=done``: the ones I decided);
  ``GET /approvals/{id}/`` — a request I take part in (approver, submitter, owner) with its
  history; ``POST /approvals/{id}/approve|reject|withdraw/`` — act on it (any document type).
- ``POST /contracts/{id}/submit|withdraw/`` — through the contract's data scope;
  ``POST /contracts/{id}/approve|reject/`` — through "I am an approver of its current step", not
  the scope: an approver may be outside the owner's data scope. A contract that is missing, not
  under approval, or not mine to approve is the same 404.
- ``GET /contracts/{id}/approval-history/`` — every approval of a contract in the caller's scope."""

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import registry, selectors, services
from approvals.api.serializers import (
    ApprovalActionSerializer,
    ApprovalDetailSerializer,
    ApprovalInboxRowSerializer,
    ApprovalRequestSerializer,
    ContractApprovalResultSerializer,
)
from approvals.models import ApprovalRequest, DocType
from contracts.models import Contract
from contracts.services import approval as contract_approval
from crm.api.base import ScopedGenericViewSet
from crm.api.pagination import CursorPagination
from crm.errors import DomainError
from staff.scope import get_for_user


class InboxPagination(CursorPagination):
    """Cursor pages in the selector's own order (pending: newest task first; done: latest
    decision first)."""

    page_size = 50

    def get_ordering(self, request, queryset, view):
        return tuple(queryset.query.order_by)


def request_context(*, user, request, with_document=False):
    context = {
        "tasks": list(selectors.request_tasks(request=request)),
        "history": list(selectors.request_history(request=request)),
        "can": {
            "approve": selectors.is_current_approver(user=user, request=request),
            "reject": selectors.is_current_approver(user=user, request=request),
            "withdraw": services.can_withdraw(user=user, request=request),
        },
    }
    if with_document:
        document_type = registry.DOCUMENT_TYPES.get(request.doc_type)
        document = document_type.load(request.object_id) if document_type else None
        if document is not None and document_type.describe is not None:
            described = document_type.describe(document)
            context["document"] = {
                "fields": [{"label": str(label), "value": _plain(value)} for label, value in described["rows"]],
                "lines": [{key: _plain(value) for key, value in line.items()} for line in described["lines"]],
            }
    return context


def _plain(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _action_data(request):
    serializer = ApprovalActionSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """The list is my approval tasks; a detail is a request I take part in — nobody else's."""

    model = ApprovalRequest
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = InboxPagination
    filter_backends = []

    def get_scoped_queryset(self, user):
        if self.action == "list":
            return selectors.approval_inbox(user=user, done=self.request.query_params.get("status") == "done")
        return selectors.approval_requests_visible_to(user).select_related("submitted_by", "owner")

    def get_serializer_class(self):
        return ApprovalInboxRowSerializer if self.action == "list" else ApprovalDetailSerializer

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=["pending", "done"], description=_("pending（默认）或 done"))],
        responses=ApprovalInboxRowSerializer(many=True),
    )
    def list(self, request, *args, **kwargs):
        status = request.query_params.get("status", "pending")
        if status not in ("pending", "done"):
            raise DomainError(_("参数无效。"), fields={"status": [_("应为 pending 或 done。")]})
        return super().list(request, *args, **kwargs)

    def _respond(self, approval):
        approval = selectors.approval_request_get_for_user(user=self.request.user, pk=approval.pk)
        context = request_context(user=self.request.user, request=approval, with_document=True)
        return Response(ApprovalDetailSerializer(approval, context=context).data)

    @extend_schema(responses=ApprovalDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    @extend_schema(request=ApprovalActionSerializer, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        approval = self.get_object()
        services.approval_approve(user=request.user, request=approval, comment=_action_data(request)["comment"])
        return self._respond(approval)

    @extend_schema(request=ApprovalActionSerializer, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        approval = self.get_object()
        services.approval_reject(user=request.user, request=approval, comment=_action_data(request)["comment"])
        return self._respond(approval)

    @extend_schema(request=ApprovalActionSerializer, responses=ApprovalDetailSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        approval = self.get_object()
        services.approval_withdraw(user=request.user, request=approval, comment=_action_data(request)["comment"])
        return self._respond(approval)


# --- contracts --------------------------------------------------------------------------------


def contract_payload(*, user, contract):
    """The contract's status after an action, with its latest approval (as the caller sees it)."""
    latest = selectors.latest_request(doc_type=DocType.CONTRACT, object_id=contract.pk)
    approval = None
    if latest is not None:
        approval = ApprovalRequestSerializer(latest, context=request_context(user=user, request=latest)).data
    return {
        "id": contract.pk,
        "number": contract.number,
        "title": contract.title,
        "status": contract.status,
        "status_label": contract.get_status_display(),
        "total": str(contract.total),
        "version": contract.version,
        "submitted_at": contract.submitted_at,
        "approved_at": contract.approved_at,
        "approval": approval,
    }


class _ContractActionView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    def post(self, request, pk):
        data = _action_data(request)
        contract = self.act(request.user, pk, data)
        return Response(contract_payload(user=request.user, contract=contract))


class ContractSubmitView(_ContractActionView):
    """Submit a draft / rejected / withdrawn contract for approval (who may edit it: its scope
    and ``contracts.change_contract``)."""

    @extend_schema(request=ApprovalActionSerializer, responses=ContractApprovalResultSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, user, pk, data):
        contract = get_for_user(Contract.objects, user=user, pk=pk)
        if not user.has_perm("contracts.change_contract"):
            raise DomainError(_("你没有修改合同的权限。"), code="permission_denied", status=403)
        return contract_approval.contract_submit(
            user=user, contract=contract, version=data["version"], comment=data["comment"]
        )


class ContractWithdrawView(_ContractActionView):
    """Withdraw the contract's pending approval (its submitter or owner)."""

    @extend_schema(request=ApprovalActionSerializer, responses=ContractApprovalResultSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, user, pk, data):
        contract = get_for_user(Contract.objects, user=user, pk=pk)
        return contract_approval.contract_withdraw(
            user=user, contract=contract, version=data["version"], comment=data["comment"]
        )


def _contract_for_approver(pk):
    """The contract by id — whoever's scope it is in; the action then checks the caller is an
    approver of its current step (404 otherwise, like a missing id)."""
    contract = Contract.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if contract is None:
        raise Http404
    return contract


class ContractApproveView(_ContractActionView):
    """Approve the contract as an approver of its current step."""

    @extend_schema(request=ApprovalActionSerializer, responses=ContractApprovalResultSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, user, pk, data):
        return contract_approval.contract_approve(
            user=user, contract=_contract_for_approver(pk), comment=data["comment"], version=data["version"]
        )


class ContractRejectView(_ContractActionView):
    """Reject the contract as an approver of its current step; ``comment`` required."""

    @extend_schema(request=ApprovalActionSerializer, responses=ContractApprovalResultSerializer)
    def post(self, request, pk):
        return super().post(request, pk)

    def act(self, user, pk, data):
        return contract_approval.contract_reject(
            user=user, contract=_contract_for_approver(pk), comment=data["comment"], version=data["version"]
        )


class ContractApprovalHistoryView(APIView):
    """Every approval of a contract in the caller's scope, newest first, each with its history."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=ApprovalRequestSerializer(many=True))
    def get(self, request, pk):
        contract = get_for_user(Contract.objects, user=request.user, pk=pk)
        rows = []
        for approval in selectors.document_history(doc_type=DocType.CONTRACT, object_id=contract.pk):
            context = {
                "tasks": list(approval.tasks.all()),
                "history": list(approval.logs.all()),
                "can": {},
            }
            rows.append(ApprovalRequestSerializer(approval, context=context).data)
        return Response(rows)
