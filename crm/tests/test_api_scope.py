"""Tests that try to break data scope, and the registry every API route must be in.

Adding an endpoint? Add its route names below: to SCOPED_ROUTES with a ScopeCase that makes one
record for a given owner and department (the generic tests then check every scope against it),
or to UNSCOPED_ROUTES with the reason it carries no owned data. An unregistered route fails
``test_every_api_route_is_registered``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from activities.models import FollowUp, Task
from contracts.tests.factories import ContractFactory
from crm.tests.scopeapp.models import Note, NoteLink
from customers.tests.factories import ContactFactory, CustomerFactory
from opportunities.tests.factories import OpportunityFactory


@dataclass(frozen=True)
class ScopeCase:
    list_route: str
    detail_route: str
    make: Callable  # make(owner=User | None, department=Department | None) -> a saved record
    # Records without an owner are in a public pool (customers and what hangs off them): in no
    # one's scope, seen through the pool list instead (pool/tests/test_api.py).
    hides_unowned: bool = False

    def expected(self, username):
        return EXPECTED[username] - {"pool"} if self.hides_unowned else EXPECTED[username]


NOTE = ScopeCase(
    list_route="test:test-note-list",
    detail_route="test:test-note-detail",
    make=lambda owner, department: Note.objects.create(title="n", owner=owner, department=department),
)


def _make_link(owner, department):
    note = Note.objects.create(title="target", owner=owner, department=department)
    return NoteLink.objects.create(note=note, owner=owner, department=department)


NOTE_LINK = ScopeCase(list_route="test:test-note-link-list", detail_route="test:test-note-link-detail", make=_make_link)

CUSTOMER = ScopeCase(
    list_route="api:customer-list",
    detail_route="api:customer-detail",
    make=lambda owner, department: CustomerFactory(owner=owner, department=department),
    hides_unowned=True,
)
# The same customers through the 360 page's related endpoints: a hidden customer's history and
# team are 404 like the customer itself.
CUSTOMER_HISTORY = ScopeCase("api:customer-list", "api:customer-history", CUSTOMER.make, hides_unowned=True)
CUSTOMER_TEAM = ScopeCase("api:customer-list", "api:customer-team-members", CUSTOMER.make, hides_unowned=True)
CUSTOMER_MERGES = ScopeCase("api:customer-list", "api:customer-merges", CUSTOMER.make, hides_unowned=True)
# The 360 overview: 404 like the customer; its parts are their own endpoints (customers/tests/test_api_overview.py).
CUSTOMER_OVERVIEW = ScopeCase("api:customer-list", "api:customer-overview", CUSTOMER.make, hides_unowned=True)
# A customer's profile (客户画像, analytics): the customer's scope; computed on first read.
CUSTOMER_PROFILE = ScopeCase("api:customer-list", "api:customer-profile", CUSTOMER.make, hides_unowned=True)
CONTACT = ScopeCase(
    list_route="api:contact-list",
    detail_route="api:contact-detail",
    make=lambda owner, department: ContactFactory(customer=CustomerFactory(owner=owner, department=department)),
    hides_unowned=True,
)
OPPORTUNITY = ScopeCase(
    list_route="api:opportunity-list",
    detail_route="api:opportunity-detail",
    make=lambda owner, department: OpportunityFactory(owner=owner, department=department),
)
OPPORTUNITY_HISTORY = ScopeCase("api:opportunity-list", "api:opportunity-history", OPPORTUNITY.make)

FOLLOW_UP = ScopeCase(
    list_route="api:followup-list",
    detail_route="api:followup-detail",
    make=lambda owner, department: FollowUp.objects.create(
        customer=CustomerFactory(owner=owner, department=department), occurred_at=timezone.now()
    ),
    hides_unowned=True,
)


def _make_task(owner, department):
    from staff.tests.factories import UserFactory

    # A pool customer's task goes to someone outside the organisation fixture.
    assignee = owner or UserFactory()
    customer = CustomerFactory(owner=owner, department=department)
    return Task.objects.create(
        title="t", due_at=timezone.now(), assignee=assignee, created_by=assignee, customer=customer
    )


TASK = ScopeCase(list_route="api:task-list", detail_route="api:task-detail", make=_make_task, hides_unowned=True)

CONTRACT = ScopeCase(
    list_route="api:contract-list",
    detail_route="api:contract-detail",
    make=lambda owner, department: ContractFactory(owner=owner, department=department),
)


# Payment plans, payments and invoices are seen through their contract's scope.
def _sales_contract(owner, department):
    from contracts.models import ContractStatus
    from contracts.tests.factories import ContractFactory

    return ContractFactory(owner=owner, department=department, status=ContractStatus.APPROVED)


def _make_payment_plan(owner, department):
    from contracts.tests.factories import PaymentPlanFactory

    return PaymentPlanFactory(contract=_sales_contract(owner, department), number=1)


def _make_payment(owner, department):
    from contracts.tests.factories import PaymentFactory

    return PaymentFactory(contract=_sales_contract(owner, department))


def _make_invoice(owner, department):
    from contracts.tests.factories import InvoiceFactory

    return InvoiceFactory(contract=_sales_contract(owner, department))


PAYMENT_PLAN = ScopeCase("api:payment-plan-list", "api:payment-plan-detail", _make_payment_plan)
PAYMENT = ScopeCase("api:payment-list", "api:payment-detail", _make_payment)
INVOICE = ScopeCase("api:invoice-list", "api:invoice-detail", _make_invoice)

SCOPED_ROUTES = {
    "test:test-note-list": NOTE,
    "test:test-note-detail": NOTE,
    "test:test-note-link-list": NOTE_LINK,
    "test:test-note-link-detail": NOTE_LINK,
    "api:customer-list": CUSTOMER,
    "api:customer-detail": CUSTOMER,
    "api:customer-history": CUSTOMER_HISTORY,
    "api:customer-team-members": CUSTOMER_TEAM,
    "api:customer-merges": CUSTOMER_MERGES,
    "api:customer-overview": CUSTOMER_OVERVIEW,
    # POST actions; their scope tests are in customers/tests/test_api_scope_actions.py.
    "api:customer-reveal": CUSTOMER,
    "api:customer-restore": CUSTOMER,
    "api:customer-recycle-bin": CUSTOMER,
    "api:customer-transfer": CUSTOMER,
    "api:customer-team-member-remove": CUSTOMER,
    "api:customer-merge": CUSTOMER,
    "api:customer-profile": CUSTOMER_PROFILE,
    "api:contact-list": CONTACT,
    "api:contact-detail": CONTACT,
    # The public pool: its own visibility (pools serving the caller's department), tested in
    # pool/tests/test_api.py; the actions on owned customers (release, lock, unlock) use the
    # customer scope above, claim/assign the pool's — their 404 tests are there too.
    "api:pool-customer-list": CUSTOMER,
    "api:pool-customer-detail": CUSTOMER,
    "api:customer-claim": CUSTOMER,
    "api:customer-release": CUSTOMER,
    "api:customer-assign": CUSTOMER,
    "api:customer-lock": CUSTOMER,
    "api:customer-unlock": CUSTOMER,
    "api:followup-list": FOLLOW_UP,
    "api:followup-detail": FOLLOW_UP,
    "api:task-list": TASK,
    "api:task-detail": TASK,
    # A second id or POST actions; their scope tests are in activities/tests/test_api.py.
    "api:followup-attachment": FOLLOW_UP,
    "api:task-complete": TASK,
    "api:task-cancel": TASK,
    "api:task-reopen": TASK,
    "api:opportunity-list": OPPORTUNITY,
    "api:opportunity-detail": OPPORTUNITY,
    "api:opportunity-history": OPPORTUNITY_HISTORY,
    # The move action, the board and the reports: their scope tests (every figure, every scope)
    # are in opportunities/tests/test_api_scope_figures.py.
    "api:opportunity-move": OPPORTUNITY,
    "api:opportunity-board": OPPORTUNITY,
    "api:report-funnel": OPPORTUNITY,
    "api:report-forecast": OPPORTUNITY,
    "api:contract-list": CONTRACT,
    "api:contract-detail": CONTRACT,
    # POST actions and the draft from a deal; their scope tests (404 outside scope, nothing
    # written) are in contracts/tests/test_contracts_api.py.
    "api:contract-activate": CONTRACT,
    "api:contract-complete": CONTRACT,
    "api:contract-terminate": CONTRACT,
    "api:contract-void": CONTRACT,
    "api:contract-renew": CONTRACT,
    "api:contract-from-opportunity": CONTRACT,
    "api:payment-plan-list": PAYMENT_PLAN,
    "api:payment-plan-detail": PAYMENT_PLAN,
    "api:payment-list": PAYMENT,
    "api:payment-detail": PAYMENT,
    "api:invoice-list": INVOICE,
    "api:invoice-detail": INVOICE,
    # POST actions, the plan's set, invoice titles (seen through their customer's scope) and the
    # receivables report: their scope tests (every user of the org, every figure) are in
    # contracts/tests/test_payments_api.py, test_invoices_api.py and test_receivables_api.py.
    "api:payment-plan-set": PAYMENT_PLAN,
    "api:payment-confirm": PAYMENT,
    "api:payment-reject": PAYMENT,
    "api:payment-void": PAYMENT,
    "api:invoice-issue": INVOICE,
    "api:invoice-ship": INVOICE,
    "api:invoice-void": INVOICE,
    "api:invoice-title-list": CUSTOMER,
    "api:invoice-title-detail": CUSTOMER,
    "api:receivables-report-receivables": PAYMENT,
    # Every report of analytics.reports.registry: each report's scope tests (every figure, a
    # department manager against out-of-scope rows) are in analytics/tests/test_reports_*.py.
    "api:report-detail": CONTRACT,
}

UNSCOPED_ROUTES = {
    "api:auth-token": "login; returns only the caller's own tokens",
    "api:auth-token-refresh": "token refresh; no records",
    "api:me": "the caller themselves",
    "api:staff-user-list": "staff directory: colleagues' names for pickers; contact fields masked (test_api)",
    "api:staff-user-detail": "staff directory entry; contact fields masked (test_api)",
    "api:staff-department-tree": "the organisation chart; no owned data",
    "api:customer-level-list": "configuration list (levels); no owned data",
    "api:customer-level-detail": "configuration list (levels); no owned data",
    "api:tag-list": "configuration list; no owned data",
    "api:tag-detail": "configuration list; no owned data",
    "api:source-list": "configuration list; no owned data",
    "api:source-detail": "configuration list; no owned data",
    "api:industry-list": "configuration list; no owned data",
    "api:industry-detail": "configuration list; no owned data",
    "api:custom-field-list": "custom field definitions; no owned data",
    "api:custom-field-detail": "custom field definitions; no owned data",
    "api:customer-view-list": "the caller's own saved filters (rows filtered by user; test_api)",
    "api:customer-view-detail": "the caller's own saved filters (rows filtered by user; test_api)",
    "api:customer-view-builtin": "built-in view names; no records",
    # Import/export jobs are their starter's alone (JobQuerySet.visible_to; imports/tests/test_api.py
    # tries another user's job ids); what a job reads or writes goes through the customers
    # selectors and services with the starter's scope.
    "api:import-list": "the caller's own import jobs (imports/tests/test_api.py)",
    "api:import-detail": "the caller's own import jobs (imports/tests/test_api.py)",
    "api:import-errors": "errors of the caller's own import job (imports/tests/test_api.py)",
    "api:import-error-file": "error sheet of the caller's own import job (imports/tests/test_api.py)",
    "api:import-commit": "commit of the caller's own import job (imports/tests/test_api.py)",
    "api:import-undo": "undo of the caller's own import job (imports/tests/test_api.py)",
    "api:import-template": "an empty template built from the field configuration; no records",
    "api:export-list": "the caller's own export jobs (imports/tests/test_api.py)",
    "api:export-detail": "the caller's own export jobs (imports/tests/test_api.py)",
    "api:export-download": "file of the caller's own export job; rows scoped and masked (imports/tests)",
    "api:customer-check-duplicates": (
        "客户查重 searches the whole company by design; candidates outside the caller's scope show no id or "
        "contact details (customers/tests/test_duplicates_api.py)"
    ),
    "api:workbench": (
        "the caller's own figures, each read through the owning app's scoped selector; a manager's team figures "
        "are their data scope's (workbench/tests/test_selectors.py tries to break it)"
    ),
    "api:notification-list": "the caller's own inbox (rows filtered by recipient; notifications/tests/test_api)",
    "api:notification-detail": "the caller's own inbox (others' are 404; notifications/tests/test_api)",
    "api:notification-unread-count": "the caller's own unread count (notifications/tests/test_api)",
    "api:notification-read": "marks the caller's own notification (others' are 404; notifications/tests/test_api)",
    "api:notification-read-all": "marks the caller's own notifications only (notifications/tests/test_api)",
    "api:stage-group-list": "configuration (sales pipelines); no owned data",
    "api:stage-group-detail": "configuration (sales pipelines); no owned data",
    "api:stage-list": "configuration (stages); no owned data",
    "api:stage-detail": "configuration (stages); no owned data",
    "api:lost-reason-list": "configuration list (lost reasons); no owned data",
    "api:lost-reason-detail": "configuration list (lost reasons); no owned data",
    "api:product-list": "configuration (the product catalogue); no owned data",
    "api:product-detail": "configuration (the product catalogue); no owned data",
    # 我的审批: the caller's own approval tasks, and requests they take part in (approver, submitter,
    # owner) — others' are 404 like missing ones (approvals/tests/test_api.py). Approve / reject
    # need a pending task of the current step: deliberately not the document's data scope, since
    # an approver may be outside the owner's (tested there, both ways).
    "api:approval-list": "the caller's own approval tasks (approvals/tests/test_api.py)",
    "api:approval-detail": "requests the caller takes part in; others' are 404 (approvals/tests/test_api.py)",
    "api:approval-approve": "current approvers only, others 404 (approvals/tests/test_api.py)",
    "api:approval-reject": "current approvers only, others 404 (approvals/tests/test_api.py)",
    "api:approval-withdraw": "submitter or owner of a request they take part in (approvals/tests/test_api.py)",
    "api:contract-approve": "current approvers only, whatever their data scope; others 404 (approvals/tests)",
    "api:contract-reject": "current approvers only, whatever their data scope; others 404 (approvals/tests)",
    # Through Contract.objects.visible_to (get_for_user): 404 outside scope, tested in
    # approvals/tests/test_api.py. At merge they may join SCOPED_ROUTES with the contract case.
    "api:contract-submit": "contract scope (get_for_user) + change permission (approvals/tests/test_api.py)",
    "api:contract-withdraw": "contract scope (get_for_user); submitter/owner only (approvals/tests/test_api.py)",
    "api:contract-approval-history": "contract scope (get_for_user); 404 outside (approvals/tests/test_api.py)",
}

# Who sees whose records, written out by hand from the org fixture's docstring (conftest.py).
# Keys of the records: each user's own record, plus "moved" (owned by south_rep but filed under
# 华东组) and "pool" (no owner, no department).
ALL_RECORDS = {
    "ceo", "s1_director", "east_manager", "east_lead", "east_rep", "east_intern", "south_rep",
    "north_rep", "north_other", "s2_rep", "norole", "inactive", "admin", "moved", "pool",
}  # fmt: skip
EAST = {"east_manager", "east_lead", "east_rep", "east_intern", "norole", "inactive", "moved"}
EXPECTED = {
    "ceo": ALL_RECORDS,
    "admin": ALL_RECORDS,
    "s1_director": {"s1_director", "south_rep"} | EAST,
    "east_manager": EAST,
    "east_lead": {"east_lead", "east_rep", "east_intern"},
    "east_rep": {"east_rep"},
    "east_intern": {"east_intern"},
    "south_rep": {"south_rep", "moved"},
    "north_rep": {"north_rep", "north_other"},
    "north_other": {"north_other"},
    "s2_rep": {"s2_rep"},
    "norole": {"norole"},
    "inactive": set(),
}


def _api_route_names():
    names = set()

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else pattern.namespace
                walk(pattern.url_patterns, route, inner or namespace)
            elif isinstance(pattern, URLPattern) and route.lstrip("^").startswith("api/v1/"):
                names.add(f"{namespace}:{pattern.name}" if namespace else str(pattern.name))

    walk(get_resolver().url_patterns, "", None)
    return names


def test_every_api_route_is_registered():
    names = _api_route_names()
    assert "api:me" in names  # the walk itself works
    unregistered = names - SCOPED_ROUTES.keys() - UNSCOPED_ROUTES.keys()
    assert not unregistered, f"API routes without scope tests: {sorted(unregistered)}"
    stale = (SCOPED_ROUTES.keys() | UNSCOPED_ROUTES.keys()) - names
    assert not stale, f"registered routes that no longer exist: {sorted(stale)}"


def _records(org, case):
    records = {}
    for name, user in org.users.items():
        records[name] = case.make(owner=user, department=user.department)
    records["moved"] = case.make(owner=org.south_rep, department=org.departments["east"])
    records["pool"] = case.make(owner=None, department=None)
    return records


CASES = sorted({case for case in SCOPED_ROUTES.values()}, key=lambda c: c.list_route)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.list_route)
@pytest.mark.parametrize("username", sorted(EXPECTED))
def test_queryset_scope(org, case, username):
    records = _records(org, case)
    model = type(records["pool"])
    visible = set(model.objects.visible_to(org.users[username]).values_list("pk", flat=True))
    expected = {records[key].pk for key in case.expected(username)}
    assert visible == expected, {key for key, record in records.items() if record.pk in visible ^ expected}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.list_route)
@pytest.mark.parametrize("username", sorted(set(EXPECTED) - {"inactive"}))
def test_api_list_and_detail_scope(org, client_for, case, username):
    records = _records(org, case)
    client = client_for(org.users[username])

    response = client.get(reverse(case.list_route), {"page_size": 200})
    assert response.status_code == 200, response.content
    listed = {row["id"] for row in response.json()["results"]}
    assert listed == {records[key].pk for key in case.expected(username)}

    for key, record in records.items():
        url = reverse(case.detail_route, args=[record.pk])
        response = client.get(url)
        if key in case.expected(username):
            assert response.status_code == 200, (key, response.content)
        else:
            # Outside scope is indistinguishable from missing: 404, same body.
            assert response.status_code == 404, (key, response.status_code)
            assert response.json()["error"]["code"] == "not_found"


def test_inactive_user_token_is_refused(org, client_for):
    response = client_for(org.inactive).get(reverse(NOTE.list_route))
    assert response.status_code == 401


def test_out_of_scope_record_cannot_be_changed_or_deleted(org, client_for):
    theirs = NOTE.make(owner=org.north_other, department=org.departments["north"])
    client = client_for(org.east_rep)
    url = reverse(NOTE.detail_route, args=[theirs.pk])

    assert client.patch(url, {"title": "hijacked"}, format="json").status_code == 404
    assert client.put(url, {"title": "hijacked"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.title == "n"


def test_missing_and_out_of_scope_answer_the_same(org, client_for):
    theirs = NOTE.make(owner=org.north_other, department=org.departments["north"])
    client = client_for(org.east_rep)
    hidden = client.get(reverse(NOTE.detail_route, args=[theirs.pk]))
    missing = client.get(reverse(NOTE.detail_route, args=[theirs.pk + 10_000]))
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


def test_foreign_key_outside_scope_is_refused(org, client_for):
    mine = NOTE.make(owner=org.east_rep, department=org.departments["east"])
    theirs = NOTE.make(owner=org.north_other, department=org.departments["north"])
    client = client_for(org.east_rep)
    url = reverse(NOTE_LINK.list_route)

    refused = client.post(url, {"note": theirs.pk, "comment": "x"}, format="json")
    missing = client.post(url, {"note": theirs.pk + 10_000, "comment": "x"}, format="json")
    accepted = client.post(url, {"note": mine.pk, "comment": "x"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["note"] == missing.json()["error"]["fields"]["note"]
    assert accepted.status_code == 201
    assert NoteLink.objects.filter(note=theirs).count() == 0


def test_foreign_key_update_to_out_of_scope_record_is_refused(org, client_for):
    mine = NOTE.make(owner=org.east_rep, department=org.departments["east"])
    theirs = NOTE.make(owner=org.north_other, department=org.departments["north"])
    link = NoteLink.objects.create(note=mine, owner=org.east_rep, department=org.departments["east"])
    response = client_for(org.east_rep).patch(
        reverse(NOTE_LINK.detail_route, args=[link.pk]), {"note": theirs.pk}, format="json"
    )
    assert response.status_code == 400
    link.refresh_from_db()
    assert link.note_id == mine.pk


def test_owner_department_and_creator_are_not_writable(org, client_for):
    client = client_for(org.east_rep)
    payload = {
        "title": "mine",
        "owner": org.ceo.pk,
        "department": org.departments["north"].pk,
        "created_by": org.ceo.pk,
    }
    created = client.post(reverse(NOTE.list_route), payload, format="json")
    assert created.status_code == 201, created.content
    note = Note.objects.get(pk=created.json()["id"])
    assert (note.owner, note.department, note.created_by) == (org.east_rep, org.departments["east"], org.east_rep)

    changed = client.patch(reverse(NOTE.detail_route, args=[note.pk]), payload, format="json")
    assert changed.status_code == 200
    note.refresh_from_db()
    assert (note.owner, note.department, note.created_by) == (org.east_rep, org.departments["east"], org.east_rep)


def test_search_filters_and_counts_stay_in_scope(org, client_for):
    mine = Note.objects.create(title="合同A", owner=org.east_rep, department=org.departments["east"])
    Note.objects.create(title="合同B", owner=org.north_other, department=org.departments["north"])
    client = client_for(org.east_rep)

    searched = client.get(reverse(NOTE.list_route), {"search": "合同"})
    assert [row["id"] for row in searched.json()["results"]] == [mine.pk]
    # Filtering on someone else's id must not reveal their records either.
    filtered = client.get(reverse(NOTE.list_route), {"owner": org.north_other.pk})
    assert filtered.status_code in (200, 400)
    if filtered.status_code == 200:
        assert filtered.json()["results"] == []


def test_filtering_by_an_out_of_scope_record_answers_like_a_missing_one(org, client_for):
    theirs = NOTE.make(owner=org.north_other, department=org.departments["north"])
    mine = NOTE.make(owner=org.east_rep, department=org.departments["east"])
    NoteLink.objects.create(note=mine, owner=org.east_rep, department=org.departments["east"])
    client = client_for(org.east_rep)
    url = reverse(NOTE_LINK.list_route)

    hidden = client.get(url, {"note": theirs.pk})
    missing = client.get(url, {"note": theirs.pk + 10_000})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"]["fields"]["note"] == missing.json()["error"]["fields"]["note"]
    assert len(client.get(url, {"note": mine.pk}).json()["results"]) == 1


def test_a_filter_on_an_owned_model_without_scope_is_refused():
    import django_filters
    from django.core.exceptions import ImproperlyConfigured

    from crm.api.filters import SyncFilterSet

    class Leaky(SyncFilterSet):
        note = django_filters.ModelChoiceFilter(queryset=Note.objects.all())

        class Meta:
            model = NoteLink
            fields = []

    with pytest.raises(ImproperlyConfigured):
        Leaky(data={})


def test_a_writable_relation_to_an_owned_model_without_scope_is_refused():
    from django.core.exceptions import ImproperlyConfigured
    from rest_framework import serializers

    from crm.api.serializers import OwnedModelSerializer

    class Leaky(OwnedModelSerializer):
        note = serializers.PrimaryKeyRelatedField(queryset=Note.objects.all())

        class Meta:
            model = NoteLink
            fields = ["id", "note"]

    with pytest.raises(ImproperlyConfigured):
        Leaky().fields  # noqa: B018


def test_ownership_fields_stay_read_only_under_another_name(org):
    from rest_framework import serializers

    from crm.api.serializers import OwnedModelSerializer

    class Renamed(OwnedModelSerializer):
        boss = serializers.PrimaryKeyRelatedField(source="owner", queryset=type(org.ceo).objects.all())

        class Meta:
            model = Note
            fields = ["id", "title", "boss"]

    serializer = Renamed(data={"title": "t", "boss": org.ceo.pk})
    assert serializer.is_valid(), serializer.errors
    assert "owner" not in serializer.validated_data


def test_permissions_are_required_per_method(org, client_for):
    """Model permissions apply on top of scope: a role without view_note gets 403 on the list."""
    from django.contrib.auth.models import Permission

    from staff.tests.factories import RoleFactory

    reader = RoleFactory(name="note-reader", data_scope="self")
    reader.permissions.set(Permission.objects.filter(codename="view_note"))
    user = org.east_rep
    user.roles.set([reader])

    client = client_for(user)
    assert client.get(reverse(NOTE.list_route)).status_code == 200
    assert client.post(reverse(NOTE.list_route), {"title": "x"}, format="json").status_code == 403


def test_background_jobs_read_with_the_requesting_users_scope(org):
    from staff.scope import user_for_job

    records = _records(org, NOTE)
    acting = user_for_job(org.east_lead.pk)
    visible = set(Note.objects.visible_to(acting).values_list("pk", flat=True))
    assert visible == {records[key].pk for key in EXPECTED["east_lead"]}
    assert user_for_job(org.inactive.pk) is None
    assert user_for_job(10_000_000) is None


def _make_contract(owner, department):
    from contracts.tests.factories import ContractFactory

    return ContractFactory(owner=owner, department=department)


CONTRACT_APPROVAL = ScopeCase(
    list_route="api:contract-approval-history", detail_route="api:contract-approval-history", make=_make_contract
)


@pytest.mark.parametrize("username", sorted(set(EXPECTED) - {"inactive"}))
def test_contract_approval_routes_follow_the_contract_scope(org, client_for, username):
    """History, submit and withdraw of a contract read it through its scope: out of scope is 404
    like a missing id; in scope the action gets as far as the contract's own rules (a contract
    without lines is not submitted, a draft is not under approval — 400s, nothing written)."""
    records = _records(org, CONTRACT_APPROVAL)
    client = client_for(org.users[username])
    expected = CONTRACT_APPROVAL.expected(username)
    for key, record in records.items():
        history = client.get(reverse("api:contract-approval-history", args=[record.pk]))
        submit = client.post(reverse("api:contract-submit", args=[record.pk]), {}, format="json")
        withdraw = client.post(reverse("api:contract-withdraw", args=[record.pk]), {}, format="json")
        if key in expected:
            assert history.status_code == 200, (key, history.content)
            assert submit.json()["error"]["code"] == "no_lines", (key, submit.content)
            assert withdraw.json()["error"]["code"] == "not_under_approval", (key, withdraw.content)
        else:
            for response in (history, submit, withdraw):
                assert response.status_code == 404, (key, response.status_code)
                assert response.json()["error"]["code"] == "not_found"
    assert type(records["pool"]).objects.exclude(status="draft").count() == 0
