"""Follow-up and task shapes for the mini-program: the field names of SPEC/issue 5. Input only
checks types; the rules run in activities.services."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from activities.models import FollowUp, FollowUpAttachment, FollowUpType, Task, TaskPriority
from crm.api.serializers import CrmModelSerializer, ScopedPrimaryKeyRelatedField
from customers.models import Contact, Customer
from staff.models import User

FOLLOW_UP_FIELDS = [
    "id", "customer", "contact", "type", "content", "occurred_at", "next_follow_up_at", "latitude", "longitude",
    "attachments", "created_by",
]  # fmt: skip
TASK_FIELDS = ["id", "title", "due_at", "remind_at", "assignee", "customer", "priority", "status"]


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = FollowUpAttachment
        fields = ["id", "name", "size", "content_type", "url"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return reverse("api:followup-attachment", args=[attachment.follow_up_id, attachment.pk])


class FollowUpSerializer(CrmModelSerializer):
    attachments = AttachmentSerializer(many=True, read_only=True)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False, read_only=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False, read_only=True)

    class Meta:
        model = FollowUp
        fields = FOLLOW_UP_FIELDS
        read_only_fields = fields


class FollowUpWriteSerializer(serializers.Serializer):
    customer = ScopedPrimaryKeyRelatedField(model=Customer)
    contact = ScopedPrimaryKeyRelatedField(model=Contact, required=False, allow_null=True)
    type = serializers.ChoiceField(choices=FollowUpType.choices, default=FollowUpType.CALL)
    content = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    next_follow_up_at = serializers.DateTimeField(required=False, allow_null=True)
    latitude = serializers.DecimalField(max_digits=12, decimal_places=8, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=12, decimal_places=8, required=False, allow_null=True)
    attachments = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False), required=False, default=list, write_only=True
    )
    create_task = serializers.BooleanField(
        required=False, default=False, write_only=True, help_text=_("把下次跟进加入自己的待办")
    )


class TaskSerializer(CrmModelSerializer):
    class Meta:
        model = Task
        fields = TASK_FIELDS
        read_only_fields = fields


class TaskWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    due_at = serializers.DateTimeField()
    remind_at = serializers.DateTimeField(required=False, allow_null=True)
    assignee = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(is_active=True), required=False)
    customer = ScopedPrimaryKeyRelatedField(model=Customer, required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=TaskPriority.choices, default=TaskPriority.NORMAL)
