"""The audit log (审计日志, SPEC §1): who did what to which record, from where. Append-only: the
database itself refuses UPDATE and the DELETE of rows younger than 180 days (see the trigger in
migrations/0001_initial.py); audit.services writes, audit.selectors reads."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Rows younger than this can never be deleted: the shortest retention SPEC §1 allows ("at least 6
# months"). The database trigger (migrations/0001_initial.py) holds the same number.
APPEND_ONLY_DAYS = 180


class AuditAction(models.TextChoices):
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    REVEAL = "reveal", _("查看完整号码")
    EXPORT = "export", _("导出")
    IMPORT = "import", _("导入")
    CREATE = "create", _("新建")
    DELETE = "delete", _("删除")
    RESTORE = "restore", _("恢复")
    PURGE = "purge", _("彻底删除")
    MERGE = "merge", _("合并")
    TRANSFER = "transfer", _("转移")
    TEAM_MEMBER_ADD = "team_member_add", _("添加团队成员")
    TEAM_MEMBER_REMOVE = "team_member_remove", _("移除团队成员")
    PERMISSION_CHANGE = "permission_change", _("权限变更")
    FIELD_PERMISSION_CHANGE = "field_permission_change", _("字段权限变更")
    POOL_CLAIM = "pool_claim", _("领取公海客户")
    POOL_RELEASE = "pool_release", _("退回公海")
    POOL_ASSIGN = "pool_assign", _("分配公海客户")
    POOL_LOCK = "pool_lock", _("锁定客户")
    POOL_UNLOCK = "pool_unlock", _("解锁客户")
    POOL_RECALL = "pool_recall", _("自动回收到公海")
    POOL_SETTINGS_CHANGE = "pool_settings_change", _("公海设置变更")


class AuditEvent(models.Model):
    """One audited action. The target is referenced loosely (``target_type`` is the model label,
    e.g. "customers.customer", ``target_id`` its primary key as text) so the event outlives the
    record; ``actor_repr`` and ``target_repr`` keep the names as they read at the time."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    # SET_NULL, not PROTECT: staff accounts can still be deleted (a mistaken account that once
    # logged in, say) and the event keeps who it was in ``actor_repr``. Nulling the actor is the one
    # UPDATE the append-only trigger lets through. PROTECT would make every account that ever logged
    # in undeletable. The index is (actor, at) below, so the FK's own index would be redundant.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    actor_repr = models.CharField(_("操作人名称"), max_length=200, blank=True)
    # Indexed as the leading column of (action, at) below.
    action = models.CharField(_("操作"), max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(_("对象类型"), max_length=100, blank=True)
    target_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    target_repr = models.CharField(_("对象名称"), max_length=200, blank=True)
    data = models.JSONField(_("详情"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    user_agent = models.CharField(_("设备（User-Agent）"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_event_target_idx"),
            models.Index(fields=["actor", "at"], name="audit_event_actor_at_idx"),
            models.Index(fields=["action", "at"], name="audit_event_action_at_idx"),
        ]

    def __str__(self):
        who = self.actor_repr or "—"
        what = f" {self.target_repr}" if self.target_repr else ""
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {who} {self.get_action_display()}{what}"
