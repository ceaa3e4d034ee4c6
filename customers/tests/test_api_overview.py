"""The 360 overview (``GET /api/v1/customers/<id>/overview/``): one request, each part its own
endpoint's answer for the same user — scope, permissions and masking included."""

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activities.tests.factories import FollowUpFactory
from contracts.tests.factories import ContractFactory
from customers.tests.factories import ContactFactory, CustomerFactory
from opportunities.tests.factories import OpportunityFactory

PARTS = ["contacts", "timeline", "opportunities", "contracts", "profile"]


def overview(customer):
    return reverse("api:customer-overview", args=[customer.pk])


def _customer_with_everything(owner, rows=2):
    customer = CustomerFactory(owner=owner, department=owner.department, mobile="13800138000")
    for i in range(rows):
        ContactFactory(customer=customer, name=f"联系人{i}", mobile=f"139{i:08d}")
        FollowUpFactory(customer=customer, occurred_at=timezone.now() - timedelta(days=i))
        OpportunityFactory(customer=customer, owner=owner)
        ContractFactory(customer=customer, owner=owner)
    other = CustomerFactory(owner=owner, department=owner.department)  # rows of another customer stay out
    ContactFactory(customer=other)
    FollowUpFactory(customer=other)
    return customer


def test_each_part_is_its_own_endpoints_answer(org, client_for):
    customer = _customer_with_everything(org.east_rep)
    for user in (org.east_rep, org.east_manager, org.ceo):
        client = client_for(user)
        response = client.get(overview(customer))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["customer"] == client.get(reverse("api:customer-detail", args=[customer.pk])).json()
        assert list(body["parts"]) == PARTS
        parts = body["parts"]
        page = {"customer": customer.pk, "page_size": 20}
        assert parts["contacts"] == client.get(reverse("api:contact-list"), page).json()
        assert (
            parts["timeline"] == client.get(reverse("api:followup-list"), {**page, "ordering": "-occurred_at"}).json()
        )
        assert parts["opportunities"] == client.get(reverse("api:opportunity-list"), page).json()
        assert parts["contracts"] == client.get(reverse("api:contract-list"), page).json()
        assert parts["profile"] == client.get(reverse("api:customer-profile", args=[customer.pk])).json()
        # Only this customer's rows, all of them, latest follow-up first.
        assert len(parts["contacts"]["results"]) == 2
        assert {row["customer"] for row in parts["contacts"]["results"]} == {customer.pk}
        assert parts["timeline"]["count"] == 2
        occurred = [row["occurred_at"] for row in parts["timeline"]["results"]]
        assert occurred == sorted(occurred, reverse=True)
        assert parts["opportunities"]["count"] == 2
        assert parts["contracts"]["count"] == 2
        assert parts["profile"]["computed_at"]


def test_a_list_part_is_the_first_page_and_continues_on_its_own_list(org, client_for):
    customer = _customer_with_everything(org.east_rep, rows=23)
    client = client_for(org.east_rep)
    contacts = client.get(overview(customer)).json()["parts"]["contacts"]
    assert len(contacts["results"]) == 20
    assert contacts["next"].split("?")[0].endswith(reverse("api:contact-list"))
    rest = client.get(contacts["next"]).json()
    seen = [row["id"] for row in contacts["results"] + rest["results"]]
    assert sorted(seen) == sorted(customer.contacts.values_list("pk", flat=True))


def test_a_customer_out_of_scope_is_404_and_reveals_no_part(org, client_for):
    customer = _customer_with_everything(org.east_rep)
    for user in (org.south_rep, org.north_rep, org.s2_rep, org.east_intern):
        response = client_for(user).get(overview(customer))
        assert response.status_code == 404, (user.username, response.content)
        assert "parts" not in response.json()
    assert client_for(org.south_rep).get(reverse("api:customer-overview", args=[10**9])).status_code == 404


def test_a_part_the_user_may_not_read_is_null_and_the_others_stay(org, client_for):
    customer = _customer_with_everything(org.east_rep)
    user = org.norole  # owns nothing here: make them the owner, then take one permission away
    customer.owner, customer.department = user, user.department
    customer.save()
    user.user_permissions.remove(Permission.objects.get(codename="view_contract"))
    parts = client_for(user).get(overview(customer)).json()["parts"]
    assert parts["contracts"] is None
    assert len(parts["contacts"]["results"]) == 2 and parts["profile"] is not None


def test_without_view_customer_the_overview_is_403(org, client_for):
    customer = _customer_with_everything(org.norole)
    org.norole.user_permissions.remove(Permission.objects.get(codename="view_customer"))
    assert client_for(org.norole).get(overview(customer)).status_code == 403


def test_numbers_are_masked_for_a_viewer_who_is_not_the_owner(org, client_for, settings):
    settings.CONTACT_REVEAL_REQUIRED = True
    customer = _customer_with_everything(org.east_rep)
    owner_view = client_for(org.east_rep).get(overview(customer)).json()
    assert owner_view["customer"]["mobile"] == "13800138000"
    assert {row["mobile"] for row in owner_view["parts"]["contacts"]["results"]} == {"13900000000", "13900000001"}
    manager_view = client_for(org.east_manager).get(overview(customer)).json()
    assert manager_view["customer"]["mobile"] not in ("", "13800138000")
    assert "13800138000" not in str(manager_view) and "13900000000" not in str(manager_view)


def test_the_statement_count_does_not_grow_with_the_rows(org, client_for):
    small = _customer_with_everything(org.east_rep, rows=1)
    large = _customer_with_everything(org.east_rep, rows=8)
    client = client_for(org.east_rep)
    client.get(overview(small))  # profiles computed on first read
    client.get(overview(large))
    counts = []
    for customer in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(overview(customer)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
