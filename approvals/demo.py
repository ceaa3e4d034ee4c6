"""Demo data for approvals: the demo's 总经理 role gets the general manager approval, so large
contracts in the demo go department leader → 张伟. Called by staff's seed_demo after the roles."""

from django.contrib.auth.models import Permission

from approvals.models import GENERAL_MANAGER_CODENAME
from staff.models import Role


def load_demo(role_name="总经理"):
    permission = Permission.objects.get(codename=GENERAL_MANAGER_CODENAME, content_type__app_label="approvals")
    for role in Role.objects.filter(name=role_name):
        role.permissions.add(permission)
