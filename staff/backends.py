from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class StaffBackend(ModelBackend):
    """Log in with username or mainland mobile; permissions come from the user's roles (and any
    permissions granted to the user directly)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        login = username if username is not None else kwargs.get(user_model.USERNAME_FIELD)
        if not login or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(str(login).strip())
        except (user_model.DoesNotExist, user_model.MultipleObjectsReturned):
            # Hash anyway, so an unknown login takes as long as a wrong password.
            user_model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("department").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def _get_group_permissions(self, user_obj):
        return Permission.objects.filter(roles__users=user_obj)

    def get_all_permissions(self, user_obj, obj=None):
        """The user's own permissions and their roles' in one query (ModelBackend reads them in
        two), cached on the user object under ModelBackend's name."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                perms = Permission.objects.all()
            else:
                perms = Permission.objects.filter(
                    Q(pk__in=self._get_user_permissions(user_obj).values("pk"))
                    | Q(pk__in=self._get_group_permissions(user_obj).values("pk"))
                )
            rows = perms.values_list("content_type__app_label", "codename").order_by()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}
        return user_obj._perm_cache
