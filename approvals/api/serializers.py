"""Shapes of 我的审批 for the mini-program: inbox rows, a request with its history, and the body
of the approve / reject / withdraw / submit actions."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from approvals.services import COMMENT_MAX_LENGTH


class ApprovalPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name()


def _person(user):
    return ApprovalPersonSerializer(user).data if user is not None else None


class ApprovalInboxRowSerializer(serializers.Serializer):
    """One of my approval tasks: ``id`` is the request's (GET /approvals/{id}/), ``task`` mine."""

    id = serializers.IntegerField(source="request_id")
    task = serializers.IntegerField(source="pk")
    doc_type = serializers.CharField(source="request.doc_type")
    doc_type_label = serializers.CharField(source="request.get_doc_type_display")
    object_id = serializers.IntegerField(source="request.object_id")
    title = serializers.CharField(source="request.title")
    amount = serializers.DecimalField(source="request.amount", max_digits=14, decimal_places=2)
    submitter = serializers.SerializerMethodField()
    submitted_at = serializers.DateTimeField(source="request.submitted_at")
    link = serializers.SerializerMethodField()
    document_link = serializers.CharField(source="request.link")
    status = serializers.CharField(source="request.status")
    step = serializers.IntegerField()
    step_name = serializers.SerializerMethodField()
    decision = serializers.CharField()
    comment = serializers.CharField()
    decided_at = serializers.DateTimeField()

    def get_submitter(self, task) -> dict | None:
        return _person(task.request.submitted_by)

    def get_link(self, task) -> str:
        from django.urls import reverse

        return reverse("approvals:detail", args=[task.request_id])

    def get_step_name(self, task) -> str:
        steps = task.request.steps
        if not steps:
            return str(_("管理员审批"))
        return steps[task.step - 1].get("name", "") if 1 <= task.step <= len(steps) else ""


class ApprovalLogSerializer(serializers.Serializer):
    action = serializers.CharField()
    action_label = serializers.CharField(source="get_action_display")
    step = serializers.IntegerField(allow_null=True)
    step_name = serializers.CharField()
    actor = serializers.SerializerMethodField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_actor(self, log) -> dict | None:
        return _person(log.actor)


class ApprovalTaskSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    approver = serializers.SerializerMethodField()
    decision = serializers.CharField()
    decision_label = serializers.CharField(source="get_decision_display")
    comment = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)

    def get_approver(self, task) -> dict | None:
        return _person(task.approver)


class ApprovalRequestSerializer(serializers.Serializer):
    """A request with its steps, tasks and history; ``can`` lists what the caller may do now."""

    id = serializers.IntegerField()
    doc_type = serializers.CharField()
    doc_type_label = serializers.CharField(source="get_doc_type_display")
    object_id = serializers.IntegerField()
    title = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    link = serializers.CharField()
    chain_name = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    current_step = serializers.IntegerField()
    current_step_name = serializers.CharField()
    steps = serializers.SerializerMethodField()
    submitter = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField()
    submitted_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    tasks = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    can = serializers.SerializerMethodField()

    def get_steps(self, request) -> list:
        return [{"order": index, "name": step.get("name", ""), "mode": step.get("mode", "any")}
                for index, step in enumerate(request.steps, start=1)]  # fmt: skip

    def get_submitter(self, request) -> dict | None:
        return _person(request.submitted_by)

    def get_owner(self, request) -> dict | None:
        return _person(request.owner)

    def get_tasks(self, request) -> list:
        return ApprovalTaskSerializer(self.context.get("tasks", []), many=True).data

    def get_history(self, request) -> list:
        return ApprovalLogSerializer(self.context.get("history", []), many=True).data

    def get_can(self, request) -> dict:
        return self.context.get("can", {})


class ApprovalDetailSerializer(ApprovalRequestSerializer):
    document = serializers.SerializerMethodField()

    def get_document(self, request) -> dict | None:
        return self.context.get("document")


class ApprovalActionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=COMMENT_MAX_LENGTH)
    version = serializers.IntegerField(required=False, allow_null=True, default=None)


class ContractApprovalResultSerializer(serializers.Serializer):
    """The contract after a submit / approve / reject / withdraw, with its latest approval."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    version = serializers.IntegerField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    approval = ApprovalRequestSerializer(allow_null=True)
