from django.urls import reverse
from rest_framework import serializers

from imports.models import ExportJob, ImportJob, ImportRowError, Policy, Target
from imports.services import job_progress


class _JobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    def get_progress(self, job) -> dict:
        done, total = job_progress(job)
        return {"done": done, "total": total, "percent": int(done * 100 / total) if total else 0}


class ImportJobSerializer(_JobSerializer):
    error_file_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id", "target", "file_name", "file_format", "encoding", "status", "policy", "total_rows",
            "processed_rows", "progress", "counts", "message", "error_file_url", "created_at", "validated_at",
            "committed_at", "undone_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_error_file_url(self, job) -> str | None:
        return reverse("api:import-error-file", args=[job.pk]) if job.error_file else None


class ImportUploadSerializer(serializers.Serializer):
    model = serializers.ChoiceField(choices=Target.choices, default=Target.CUSTOMER)
    file = serializers.FileField()


class CommitSerializer(serializers.Serializer):
    policy = serializers.ChoiceField(choices=Policy.choices)


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["id", "row", "column", "message"]


class ExportJobSerializer(_JobSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "target", "file_format", "params", "status", "total_rows", "processed_rows", "progress",
            "message", "download_url", "created_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, job) -> str | None:
        return reverse("api:export-download", args=[job.pk]) if job.file else None


class ExportStartSerializer(serializers.Serializer):
    model = serializers.ChoiceField(choices=Target.choices, default=Target.CUSTOMER)
    format = serializers.ChoiceField(choices=["xlsx", "csv"], default="xlsx")
    filters = serializers.DictField(required=False, default=dict, help_text="the customer list's filters")
