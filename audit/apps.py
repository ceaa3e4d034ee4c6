from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("审计日志")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from audit import receivers

        # Why signals, and why only for logins: see audit/receivers.py.
        user_logged_in.connect(receivers.record_login, dispatch_uid="audit.record_login")
        user_login_failed.connect(receivers.record_login_failed, dispatch_uid="audit.record_login_failed")
