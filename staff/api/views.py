from django.contrib.auth.models import update_last_login
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.base import ScopedReadOnlyViewSet
from crm.api.filters import SyncFilterSet
from crm.api.throttling import AuthRateThrottle
from crm.errors import DomainError
from staff import selectors, services
from staff.api.serializers import (
    DepartmentNodeSerializer,
    LoginSerializer,
    MeSerializer,
    RefreshSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from staff.auth import lockout_message
from staff.models import User


class _PublicAuthView(APIView):
    """No authentication on the way in (a stale header must not block a login), but failures
    still answer 401 with a Bearer challenge, not 403."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthRateThrottle]
    throttle_scope = "auth"

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenObtainView(_PublicAuthView):
    """Username or mobile + password → a bearer token pair. Unknown users and wrong passwords get
    the same answer; repeated failures lock the login name for this IP (429)."""

    @extend_schema(
        request=LoginSerializer,
        responses={200: TokenPairSerializer, 400: OpenApiResponse(), 401: OpenApiResponse(), 429: OpenApiResponse()},
        auth=[],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_authenticate(
            request=request._request,
            login=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:
            if getattr(request._request, "axes_locked_out", False):
                raise DomainError(lockout_message(), code="locked_out", status=429)
            raise DomainError(_("用户名或密码错误。"), code="invalid_credentials", status=401)
        update_last_login(None, user)
        return Response(services.token_pair_issue(user=user))


class TokenRefreshView(_PublicAuthView):
    """A refresh token → a new pair (the old refresh token is blacklisted)."""

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, 400: OpenApiResponse(), 401: OpenApiResponse(), 429: OpenApiResponse()},
        auth=[],
    )
    def post(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.token_refresh(refresh=serializer.validated_data["refresh"]))


class MeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = selectors.user_profile(user=request.user)
        return Response(MeSerializer(user, context={"request": request}).data)


class UserFilterSet(SyncFilterSet):
    class Meta:
        model = User
        fields = ["department", "manager", "is_active"]


class UserViewSet(ScopedReadOnlyViewSet):
    """The staff directory: every colleague is listed (names, departments, managers), so reps can
    pick team members; it carries no customer data."""

    model = User
    serializer_class = UserSerializer
    permission_classes = [permissions.IsAuthenticated]
    filterset_class = UserFilterSet
    # Not mobile or e-mail: a search would reveal what the serializer masks.
    search_fields = ["username", "display_name"]
    ordering_fields = ["id", "username", "updated_at"]

    def get_scoped_queryset(self, user):
        return selectors.user_list()


class DepartmentTreeView(APIView):
    """The department tree, nested, from one query."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=DepartmentNodeSerializer(many=True))
    def get(self, request):
        return Response(DepartmentNodeSerializer(selectors.department_tree(), many=True).data)
