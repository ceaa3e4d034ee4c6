from rest_framework import permissions


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions for every method, reads included: GET needs ``view_<model>``.
    Views without a queryset model (auth, me, health) set their own permission classes."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def _queryset(self, view):
        # The scoped hook needs a user; the permission check only needs the model.
        return view.base_queryset()

    def has_permission(self, request, view):
        """An action listed in the view's ``action_permissions`` needs exactly those permissions
        (restore → delete, transfer → transfer, …) instead of the method's default."""
        required = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if required is not None:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(required))
        return super().has_permission(request, view)


class ReadAnyWriteModelPermissions(ModelPermissions):
    """Configuration lists (levels, tags, sources…): any signed-in user reads them (every form
    needs them); changing them needs the model permission."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)
