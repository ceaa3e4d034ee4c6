from django.db.models import Count, Window
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import subrequests
from crm.api.base import ScopedGenericViewSet, ScopedModelViewSet
from crm.api.pagination import CursorPagination
from crm.api.permissions import ReadAnyWriteModelPermissions
from crm.errors import DomainError
from customers import selectors, services
from customers.api.serializers import (
    ContactSerializer,
    CustomerLevelSerializer,
    CustomerSerializer,
    CustomerWriteSerializer,
    CustomFieldSerializer,
    DuplicateCandidateSerializer,
    DuplicateCheckSerializer,
    HistoryEntrySerializer,
    IndustrySerializer,
    MergeRecordSerializer,
    MergeSerializer,
    RevealSerializer,
    SavedViewSerializer,
    SourceSerializer,
    TagSerializer,
    TeamMemberSerializer,
    TransferSerializer,
)
from customers.custom_fields import PREFIX as CUSTOM_FILTER_PREFIX
from customers.duplicates import find_duplicates
from customers.filters import ContactFilterSet, CustomerFilterSet
from customers.models import Contact, Customer, CustomerLevel, CustomField, Industry, SavedView, Source, Tag
from customers.presenters import readable_history
from staff.models import User

# The 360 page in one request (``GET /api/v1/customers/<id>/overview/``): besides the customer,
# part name -> callable(customer) -> (route name, route args, query parameters) of the endpoint
# whose answer the part is. Later apps register theirs from AppConfig.ready() (timeline, deals,
# contracts, profile); each part is that endpoint's own answer (crm.api.subrequests), so it
# needs no rule of its own. A part the user may not read (403) or that does not answer is null.
OVERVIEW_PARTS = {}
# Rows of each list part: the first page, as the 360 page shows it.
OVERVIEW_PAGE_SIZE = 20


def overview_list(route, **params):
    """An overview part that is the first page of ``route``'s list filtered to the customer."""
    return lambda customer: (route, (), {"customer": customer.pk, "page_size": OVERVIEW_PAGE_SIZE, **params})


OVERVIEW_PARTS["contacts"] = overview_list("api:contact-list")


class CountedCursorPagination(CursorPagination):
    """Cursor pages plus ``count``: exact up to LIST_COUNT_LIMIT (10,000), then that number with
    ``count_capped: true`` ("10,000+"). Search results are ordered by rank."""

    def paginate_queryset(self, queryset, request, view=None):
        self.count, self.count_capped = self.capped_count(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def capped_count(self, queryset, request, view):
        return selectors.capped_count(queryset)

    def get_ordering(self, request, queryset, view):
        if "search_rank" in queryset.query.annotations:
            return ("-search_rank", "-id")
        return super().get_ordering(request, queryset, view)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count"] = self.count
        response.data["count_capped"] = self.count_capped
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count"] = {"type": "integer"}
        schema["properties"]["count_capped"] = {"type": "boolean"}
        return schema


class CustomerListPagination(CountedCursorPagination):
    """The customer list's pages: counted and paged rule by rule of the caller's scope
    (``selectors.capped_count``, ``selectors.PagedByRule``): each rule by its own index."""

    def paginate_queryset(self, queryset, request, view=None):
        searching = "search_rank" in queryset.query.annotations
        if searching and not request.query_params.get(self.cursor_query_param):
            # A search's first page ranks every match anyway: the same query counts them (a
            # separate count read the trigram index a second time).
            page = super(CountedCursorPagination, self).paginate_queryset(
                queryset.annotate(search_total=Window(Count("pk"))), request, view
            )
            self.count, self.count_capped = selectors.cap(page[0].search_total if page else 0)
            return page
        arms = None
        # A search's trigram index finds few rows, then the scope filters them: rule by rule it
        # would be read once per rule. (The recycle bin is not the list's scope.)
        if view is not None and view.action == "list" and not searching:
            arms = selectors.customer_scope_arms(user=request.user)
        self.count, self.count_capped = selectors.capped_count(queryset, arms=arms)
        if arms and len(arms) > 1:
            queryset = selectors.PagedByRule(queryset, arms)
        return CursorPagination.paginate_queryset(self, queryset, request, view)


class CustomerViewSet(ScopedModelViewSet):
    """Customers in the caller's data scope (and those shared with them). Deleting moves a
    customer to the recycle bin; ``restore`` brings it back within 30 days."""

    model = Customer
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    pagination_class = CustomerListPagination
    ordering_fields = ["updated_at", "created_at", "id"]
    search_fields = []  # the ``q`` filter searches (ranked, trigram)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        "restore": ["customers.delete_customer"],
        "recycle_bin": ["customers.view_customer", "customers.delete_customer"],
        "transfer": ["customers.transfer_customer"],
        "history": ["customers.view_customer"],
        "timeline": ["customers.view_customer"],
        "reveal": ["customers.view_customer"],
        "team_members": ["customers.view_customer"],
        "team_member_remove": ["customers.change_customer"],
        "check_duplicates": ["customers.view_customer"],
        "merge": ["customers.change_customer", "customers.delete_customer"],
        "merges": ["customers.view_customer"],
        "overview": ["customers.view_customer"],
    }

    def filter_queryset(self, queryset):
        # The list's filters and search shape lists; one customer is found by its id in scope.
        # (Building the filter set for every detail, history or action request cost a query.)
        if self.detail:
            return queryset
        if not any(self._is_filter(name) for name in self.request.query_params):
            # No filter asked for: the filter set (~40 form fields built and cleaned, a custom
            # field query) would change nothing — a third of an unfiltered page's Python time.
            for backend in self.filter_backends:
                if not issubclass(backend, DjangoFilterBackend):
                    queryset = backend().filter_queryset(self.request, queryset, self)
            return queryset
        return super().filter_queryset(queryset)

    def _is_filter(self, name):
        return name in self.filterset_class.base_filters or name.startswith(CUSTOM_FILTER_PREFIX)

    def get_scoped_queryset(self, user):
        if self.action in ("restore", "recycle_bin"):
            return selectors.customer_recycle_bin(user=user)
        # The serializer shows lookups as ids; actions that work on the customer get them joined.
        return selectors.customer_list(user=user, lookups=self.action not in ("list", "retrieve", "overview"))

    def _respond(self, customer, status_code=status.HTTP_200_OK):
        customer = selectors.customer_get_for_user(user=self.request.user, pk=customer.pk, lookups=False)
        return Response(self.get_serializer(customer).data, status=status_code)

    @extend_schema(
        request=CustomerWriteSerializer,
        responses={
            201: CustomerSerializer,
            409: OpenApiResponse(description=_("疑似重复（code duplicate，附 candidates、can_force）")),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = CustomerWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        force = data.pop("force", False)
        customer = services.customer_create(user=request.user, data=data, force=force)
        return self._respond(customer, status.HTTP_201_CREATED)

    @extend_schema(
        request=CustomerWriteSerializer,
        responses={
            200: CustomerSerializer,
            409: OpenApiResponse(description=_("版本冲突：他人已修改（stale_version），或疑似重复（duplicate）")),
        },
    )
    def partial_update(self, request, *args, **kwargs):
        customer = self.get_object()
        serializer = CustomerWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        force = data.pop("force", False)
        services.customer_update(user=request.user, customer=customer, version=version, data=data, force=force)
        return self._respond(customer)

    @extend_schema(request=DuplicateCheckSerializer, responses=DuplicateCandidateSerializer(many=True))
    @action(detail=False, methods=["post"], url_path="check-duplicates")
    def check_duplicates(self, request):
        """客户查重: customers across the whole company (owned and pool) matching the record, at most
        10, each with its reasons; those outside the caller's scope without contact details."""
        serializer = DuplicateCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        exclude = data.pop("exclude", None)
        matches = find_duplicates(data=data, exclude_ids=[exclude] if exclude else ())
        # As in a 409's ``candidates``: fields outside the caller's scope are absent, not null.
        return Response(selectors.duplicate_candidates(user=request.user, matches=matches))

    @extend_schema(
        request=MergeSerializer,
        responses={200: CustomerSerializer, 409: OpenApiResponse(description=_("版本冲突：他人已修改"))},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge ``other`` into this customer: chosen values win, the other's contacts, tags, team and
        related records move here, the other goes to the recycle bin."""
        survivor = self.get_object()
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        other = selectors.customer_get_for_user(user=request.user, pk=data["other"])
        values = {
            **services.customer_merge_values(other=other, choices=data.get("choices")),
            **data.get("values", {}),
        }
        services.customer_merge(
            user=request.user,
            survivor=survivor,
            other=other,
            values=values,
            survivor_version=data["version"],
            other_version=data["other_version"],
            request=request,
        )
        return self._respond(survivor)

    @extend_schema(responses=MergeRecordSerializer(many=True))
    @action(detail=True, methods=["get"])
    def merges(self, request, pk=None):
        """The customers merged into this one, each with its own history (read with this
        customer's scope and masking)."""
        customer = self.get_object()
        records = selectors.customer_merges(user=request.user, customer=customer)
        for record in records:
            record["history"] = readable_history(record["history"])
        return Response(MergeRecordSerializer(records, many=True).data)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise DomainError(_("请使用 PATCH 修改客户。"), code="method_not_allowed", status=405)
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, customer):
        services.customer_delete(user=self.request.user, customer=customer, request=self.request)

    @extend_schema(request=None, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        customer = self.get_object()
        services.customer_restore(user=request.user, customer=customer, request=request)
        return self._respond(customer)

    @action(detail=False, methods=["get"], url_path="recycle-bin")
    def recycle_bin(self, request):
        return self.list(request)

    @extend_schema(
        request=TransferSerializer,
        responses=inline_serializer("TransferResult", {"transferred": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"])
    def transfer(self, request):
        serializer = TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        to_owner = User.objects.filter(pk=data["to_owner"], is_active=True).first()
        if to_owner is None:
            raise DomainError(_("接收人不存在或已停用。"), fields={"to_owner": [_("接收人不存在或已停用。")]})
        customers = list(selectors.customer_list(user=request.user).filter(pk__in=data["customers"]))
        if len(customers) != len(set(data["customers"])):
            raise DomainError(_("部分客户不存在或您无权转移。"), code="not_found", status=404)
        moved = services.customer_transfer(
            user=request.user,
            customers=customers,
            to_owner=to_owner,
            reason=data["reason"],
            request=request,
            options={"opportunities": data["opportunities"], "tasks": data["tasks"], "contracts": data["contracts"]},
        )
        return Response({"transferred": moved})

    @extend_schema(
        responses=inline_serializer(
            "CustomerOverview",
            {
                "customer": CustomerSerializer(),
                "parts": serializers.DictField(child=serializers.JSONField(allow_null=True)),
            },
        )
    )
    @action(detail=True, methods=["get"])
    def overview(self, request, pk=None):
        """The 360 page's data in one request: the customer, and in ``parts`` each registered part
        (contacts, timeline, opportunities, contracts, profile) exactly as its own endpoint
        answers it — a list part is that list's first page filtered to the customer (``next``
        continues on that list); null where the user may not read it."""
        customer = self.get_object()
        parts = {}
        for name, part in OVERVIEW_PARTS.items():
            route, args, params = part(customer)
            status_code, body = subrequests.get(request, route, args=args, params=params)
            parts[name] = body if status_code == status.HTTP_200_OK else None
        return Response({"customer": self.get_serializer(customer).data, "parts": parts})

    @extend_schema(responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        customer = self.get_object()
        entries = readable_history(selectors.customer_history(user=request.user, customer=customer))
        return Response(HistoryEntrySerializer(entries, many=True).data)

    @extend_schema(request=None, responses=RevealSerializer)
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """查看完整号码: full phone numbers and e-mails of the customer and its contacts (audit-logged)."""
        customer = self.get_object()
        return Response(services.customer_contact_reveal(user=request.user, customer=customer, request=request))

    @extend_schema(methods=["GET"], responses=TeamMemberSerializer(many=True))
    @extend_schema(methods=["POST"], request=TeamMemberSerializer, responses=TeamMemberSerializer(many=True))
    @action(detail=True, methods=["get", "post"], url_path="team-members")
    def team_members(self, request, pk=None):
        customer = self.get_object()
        if request.method == "POST":
            if not request.user.has_perm("customers.change_customer"):
                raise DomainError(_("您没有执行该操作的权限。"), code="permission_denied", status=403)
            serializer = TeamMemberSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            member = User.objects.filter(pk=data["user"], is_active=True).first()
            if member is None:
                raise DomainError(_("该员工不存在或已停用。"), fields={"user": [_("该员工不存在或已停用。")]})
            services.customer_team_member_set(
                user=request.user,
                customer=customer,
                member=member,
                access=data["access"],
                expires_at=data.get("expires_at"),
                request=request,
            )
        members = selectors.customer_team_members(customer=customer)
        return Response(TeamMemberSerializer(members, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"team-members/(?P<member_id>[0-9]+)")
    def team_member_remove(self, request, pk=None, member_id=None):
        customer = self.get_object()
        member = User.objects.filter(pk=member_id).first()
        if member is None:
            raise DomainError(_("该员工不是团队成员。"), code="not_found", status=404)
        services.customer_team_member_remove(user=request.user, customer=customer, member=member, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactViewSet(ScopedModelViewSet):
    """Contacts of the customers in the caller's scope."""

    model = Contact
    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
    search_fields = ["name"]
    ordering_fields = ["updated_at", "id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_scoped_queryset(self, user):
        return selectors.contact_list(user=user)

    def _respond(self, contact, status_code=status.HTTP_200_OK):
        contact = selectors.contact_get_for_user(user=self.request.user, pk=contact.pk)
        return Response(self.get_serializer(contact).data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        customer = data.pop("customer")
        contact = services.contact_create(user=request.user, customer=customer, data=data)
        return self._respond(contact, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        contact = self.get_object()
        serializer = self.get_serializer(contact, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "customer" in data and data["customer"].pk != contact.customer_id:
            raise DomainError(_("联系人不能改到其他客户下。"), fields={"customer": [_("联系人不能改到其他客户下。")]})
        data.pop("customer", None)
        services.contact_update(user=request.user, contact=contact, data=data)
        return self._respond(contact)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise DomainError(_("请使用 PATCH 修改联系人。"), code="method_not_allowed", status=405)
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, contact):
        services.contact_delete(user=self.request.user, contact=contact, request=self.request)


class _ConfigViewSet(ScopedModelViewSet):
    """Company-wide lists an admin configures; no owned data. Everyone signed in reads them."""

    permission_classes = [ReadAnyWriteModelPermissions]
    pagination_class = None
    filter_backends = []

    def get_scoped_queryset(self, user):
        return self.model._default_manager.all()


class CustomerLevelViewSet(_ConfigViewSet):
    model = CustomerLevel
    serializer_class = CustomerLevelSerializer


class TagViewSet(_ConfigViewSet):
    model = Tag
    serializer_class = TagSerializer


class SourceViewSet(_ConfigViewSet):
    model = Source
    serializer_class = SourceSerializer


class IndustryViewSet(_ConfigViewSet):
    model = Industry
    serializer_class = IndustrySerializer


class CustomFieldViewSet(_ConfigViewSet):
    model = CustomField
    serializer_class = CustomFieldSerializer


class SavedViewViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, ScopedGenericViewSet):
    """The caller's own saved customer filters; the built-in views are listed by ``builtin``."""

    model = SavedView
    serializer_class = SavedViewSerializer
    pagination_class = None
    filter_backends = []
    permission_classes = [permissions.IsAuthenticated]  # rows are the caller's own

    def get_scoped_queryset(self, user):
        return selectors.saved_view_list(user=user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.saved_view_create(
            user=self.request.user,
            name=data["name"],
            params=data.get("params", {}),
            target=data.get("target", "customer"),
        )

    def perform_destroy(self, view):
        services.saved_view_delete(user=self.request.user, view=view)

    @extend_schema(
        responses=inline_serializer(
            "BuiltinView", {"key": serializers.CharField(), "name": serializers.CharField()}, many=True
        )
    )
    @action(detail=False, methods=["get"])
    def builtin(self, request):
        return Response(selectors.builtin_views())
