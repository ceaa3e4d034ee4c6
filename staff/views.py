from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.utils.translation import gettext as _

from crm.api.throttling import AuthRateThrottle
from staff.forms import LoginForm


class LoginView(auth_views.LoginView):
    """Web login. Attempts share the per-IP rate of the API's token endpoint (``auth``), on top of
    the per-name lockout."""

    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    throttle_scope = "auth"

    def post(self, request, *args, **kwargs):
        if not AuthRateThrottle().allow_request(request, self):
            context = {**self.get_context_data(form=self.get_form()), "message": _("请求过于频繁，请稍后再试。")}
            return render(request, "registration/locked_out.html", context, status=429)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    pass
