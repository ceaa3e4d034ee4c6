"""Property test of customer visibility: random organisations (from the foundation's strategy),
random owners and departments, random team-member shares (read / read-write, some expired) and
deleted customers — checked against a plain-Python reading of the rules, through the queryset,
the contact queryset, and the API list."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from crm.tests.test_scope_properties import build, expected_visible, org_specs
from customers.models import Contact, Customer, CustomerTeamMember
from customers.selectors import customer_capped_count
from staff.models import User
from staff.teams import TeamAccess, team_member_set


@st.composite
def customer_specs(draw):
    spec = draw(org_specs())
    n_users, n_records = len(spec.users), len(spec.records)
    shares = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_records - 1),
                st.integers(0, n_users - 1),
                st.sampled_from([TeamAccess.READ, TeamAccess.WRITE]),
                st.booleans(),  # expired
            ),
            max_size=6,
        )
    )
    deleted = draw(st.sets(st.integers(0, n_records - 1), max_size=3))
    return spec, shares, deleted


def expected(spec, shares, deleted, viewer):
    owned = expected_visible(spec, viewer)
    active = spec.users[viewer][3]
    shared = {record for record, member, _access, expired in shares if member == viewer and not expired and active}
    in_pool = {index for index, (owner, _department) in enumerate(spec.records) if owner is None}
    # No owner: the customer is in a public pool (公海), seen only through the pool's own list.
    return (owned | shared) - deleted - in_pool


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(case=customer_specs())
def test_customer_visibility_matches_the_rules(case):
    spec, shares, deleted = case
    shares = [share for share in shares if spec.users[share[1]][3]]  # only active staff can be shared with
    with transaction.atomic():
        users, notes = build(spec)
        customers = Customer.objects.bulk_create(
            Customer(name=f"c{i}", owner=note.owner, department=note.department) for i, note in enumerate(notes)
        )
        Contact.objects.bulk_create(Contact(customer=customer, name="c") for customer in customers)
        for record, member, access, expired in shares:
            # Later shares of the same pair replace earlier ones, as in the service.
            team_member_set(CustomerTeamMember, obj=customers[record], member=users[member], access=access)
            if expired:
                CustomerTeamMember.objects.filter(content_object=customers[record], user=users[member]).update(
                    expires_at=timezone.now() - timedelta(minutes=1)
                )
        effective = {}
        for record, member, access, expired in shares:
            effective[(record, member)] = (access, expired)
        shares = [(r, m, a, e) for (r, m), (a, e) in effective.items()]
        Customer.objects.filter(pk__in=[customers[i].pk for i in deleted]).update(deleted_at=timezone.now())
        index_of = {customer.pk: i for i, customer in enumerate(customers)}

        for viewer, user in enumerate(users):
            fresh = User.objects.select_related("department").get(pk=user.pk)
            want = expected(spec, shares, deleted, viewer)
            seen = {index_of[pk] for pk in Customer.objects.visible_to(fresh).values_list("pk", flat=True)}
            assert seen == want, (viewer, spec, shares, deleted)
            # The list's count walks the scope rule by rule: the same rows, capped alike.
            visible = Customer.objects.visible_to(fresh)
            assert customer_capped_count(visible, user=fresh) == (len(want), False)
            assert customer_capped_count(visible, user=fresh, limit=2) == (
                (2, True) if len(want) > 2 else (len(want), False)
            )
            contacts = {index_of[pk] for pk in Contact.objects.visible_to(fresh).values_list("customer_id", flat=True)}
            assert contacts == want
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(case=customer_specs())
def test_api_list_and_detail_match_the_rules(case):
    spec, shares, deleted = case
    shares = [share for share in shares if spec.users[share[1]][3]]  # only active staff can be shared with
    with transaction.atomic():
        users, notes = build(spec)
        customers = Customer.objects.bulk_create(
            Customer(name=f"c{i}", owner=note.owner, department=note.department) for i, note in enumerate(notes)
        )
        effective = {}
        for record, member, access, expired in shares:
            team_member_set(CustomerTeamMember, obj=customers[record], member=users[member], access=access)
            if expired:
                CustomerTeamMember.objects.filter(content_object=customers[record], user=users[member]).update(
                    expires_at=timezone.now() - timedelta(minutes=1)
                )
            effective[(record, member)] = (access, expired)
        shares = [(r, m, a, e) for (r, m), (a, e) in effective.items()]
        Customer.objects.filter(pk__in=[customers[i].pk for i in deleted]).update(deleted_at=timezone.now())
        index_of = {customer.pk: i for i, customer in enumerate(customers)}
        for viewer, user in enumerate(users):
            if not user.is_active:
                continue
            client = APIClient()
            client.force_authenticate(User.objects.get(pk=user.pk))
            if not user.is_superuser:
                # Scope is what is tested here, not model permissions: let every viewer read.
                from django.contrib.auth.models import Permission

                user.user_permissions.set(Permission.objects.filter(codename="view_customer"))
                client.force_authenticate(User.objects.get(pk=user.pk))
            response = client.get(reverse("api:customer-list"), {"page_size": 200})
            assert response.status_code == 200, response.content
            listed = {index_of[row["id"]] for row in response.json()["results"]}
            want = expected(spec, shares, deleted, viewer)
            assert listed == want, (viewer, spec, shares, deleted)
            assert response.json()["count"] == len(want)
            for index, customer in enumerate(customers):
                status = client.get(reverse("api:customer-detail", args=[customer.pk])).status_code
                assert status == (200 if index in want else 404), (viewer, index)
        transaction.set_rollback(True)
