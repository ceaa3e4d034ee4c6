"""Every customer action tried on a customer outside the caller's scope: the same 404 as a
customer that does not exist, and nothing changes."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from customers import services
from customers.models import Contact, Customer, CustomerTeamMember
from customers.tests.factories import make_customer


@pytest.fixture
def theirs(org):
    return make_customer(org.north_other, name="北方客户", mobile="13812345678")


@pytest.mark.parametrize(
    ("method", "route", "payload"),
    [
        ("get", "api:customer-detail", None),
        ("patch", "api:customer-detail", {"version": 1, "name": "x"}),
        ("delete", "api:customer-detail", None),
        ("get", "api:customer-history", None),
        ("post", "api:customer-reveal", None),
        ("get", "api:customer-team-members", None),
        ("post", "api:customer-team-members", {"user": 1}),
        ("post", "api:customer-restore", None),
    ],
)
def test_actions_on_out_of_scope_customers_are_404(org, client_for, theirs, method, route, payload):
    client = client_for(org.east_rep)
    hidden = getattr(client, method)(reverse(route, kwargs={"pk": theirs.pk}), payload, format="json")
    missing = getattr(client, method)(reverse(route, kwargs={"pk": theirs.pk + 10_000}), payload, format="json")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    theirs.refresh_from_db()
    assert (theirs.name, theirs.version, theirs.deleted_at) == ("北方客户", 1, None)
    assert not CustomerTeamMember.objects.exists()
    assert not AuditEvent.objects.exists()


def test_team_member_remove_out_of_scope_is_404(org, client_for, theirs):
    services.customer_team_member_set(user=org.north_other, customer=theirs, member=org.s2_rep, access="read")
    url = reverse("api:customer-team-member-remove", kwargs={"pk": theirs.pk, "member_id": org.s2_rep.pk})
    assert client_for(org.east_rep).delete(url).status_code == 404
    assert CustomerTeamMember.objects.filter(user=org.s2_rep).exists()


def test_restore_of_someone_elses_deleted_customer_is_404(org, client_for, theirs):
    services.customer_delete(user=org.north_other, customer=theirs)
    response = client_for(org.east_rep).post(reverse("api:customer-restore", kwargs={"pk": theirs.pk}))
    assert response.status_code == 404
    assert Customer.objects.get(pk=theirs.pk).deleted_at is not None


def test_a_contact_cannot_be_added_to_an_out_of_scope_customer(org, client_for, theirs):
    response = client_for(org.east_rep).post(
        reverse("api:contact-list"), {"customer": theirs.pk, "name": "间谍"}, format="json"
    )
    assert response.status_code == 400
    assert "customer" in response.json()["error"]["fields"]
    assert not Contact.objects.exists()


def test_a_read_only_team_member_cannot_add_contacts(org, client_for, theirs):
    services.customer_team_member_set(user=org.north_other, customer=theirs, member=org.east_rep, access="read")
    response = client_for(org.east_rep).post(
        reverse("api:contact-list"), {"customer": theirs.pk, "name": "张三"}, format="json"
    )
    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_deleted_customers_contacts_disappear_from_contact_lists(org, client_for):
    mine = make_customer(org.east_rep, name="甲")
    services.contact_create(user=org.east_rep, customer=mine, data={"name": "张三"})
    services.customer_delete(user=org.east_rep, customer=mine)
    assert client_for(org.east_rep).get(reverse("api:contact-list")).json()["results"] == []
