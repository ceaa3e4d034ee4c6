"""The owner and department that follow-ups and profiles carry from their customer
(``CarriedFromCustomer``, triggers of activities 0002 and analytics 0003): always the customer's,
whatever writes either side — and so their scope (``Customer.objects.carried_scope_q``) is the
customer's scope, through transfer, pool return and claim, the recycle bin and team changes."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from activities.models import FollowUp
from activities.tests.factories import FollowUpFactory
from analytics.models import CustomerProfile
from customers import services
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from pool import services as pool_services
from pool.tests.factories import company_pool
from staff.models import User
from staff.teams import TeamAccess

MODELS = (FollowUp, CustomerProfile)


def row_of(model, customer):
    if model is FollowUp:
        return FollowUpFactory(customer=customer)
    return CustomerProfile.objects.create(customer=customer, computed_at=timezone.now(), last_contact_at=timezone.now())


def copies(row):
    return type(row).objects.values("owner_id", "department_id").get(pk=row.pk)


def of(customer):
    customer.refresh_from_db()
    return {"owner_id": customer.owner_id, "department_id": customer.department_id}


def fresh(user):
    """The user as a new request would load it (the scope caches team membership per object)."""
    return User.objects.select_related("department").get(pk=user.pk)


def sees(user, row):
    return type(row).objects.visible_to(fresh(user)).filter(pk=row.pk).exists()


def joined_rule(model, user):
    """The customer's scope read through the customer (the rule before the copies)."""
    ids = Customer.objects.visible_to(user).values("pk")
    return set(model.objects.filter(customer_id__in=ids).values_list("pk", flat=True))


@pytest.fixture
def customer(org):
    return CustomerFactory(owner=org.east_rep, department=org.departments["east"])


@pytest.mark.parametrize("model", MODELS)
def test_rows_written_without_them_carry_the_customers(customer, model):
    assert copies(row_of(model, customer)) == of(customer)


@pytest.mark.parametrize("model", MODELS)
def test_a_wrong_value_written_by_save_or_raw_sql_is_replaced_by_the_customers(org, customer, model):
    row = row_of(model, customer)
    row.owner = org.north_rep
    row.department = org.departments["north"]
    row.save()
    assert copies(row) == of(customer)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET owner_id = %s, department_id = %s",
            [org.north_rep.pk, org.departments["north"].pk],
        )
    assert copies(row) == of(customer)


def test_a_profile_carries_its_customers_creation_time(customer):
    profile = row_of(CustomerProfile, customer)
    assert CustomerProfile.objects.get(pk=profile.pk).customer_created_at == customer.created_at
    earlier = customer.created_at - timedelta(days=400)
    Customer.objects.filter(pk=customer.pk).update(created_at=earlier)
    assert CustomerProfile.objects.get(pk=profile.pk).customer_created_at == earlier


def test_a_follow_up_moved_to_another_customer_takes_that_customers(org, customer):
    row = row_of(FollowUp, customer)
    other = CustomerFactory(owner=org.north_other, department=org.departments["north"])
    FollowUp.objects.filter(pk=row.pk).update(customer=other)
    assert copies(row) == of(other)


@pytest.mark.parametrize("model", MODELS)
def test_a_transfer_carries_the_rows(org, customer, model):
    row = row_of(model, customer)
    assert sees(org.east_manager, row) and not sees(org.north_rep, row)
    services.customer_transfer(user=org.ceo, customers=[customer], to_owner=org.north_other, reason="调整")
    assert copies(row) == of(customer) == {"owner_id": org.north_other.pk, "department_id": org.departments["north"].pk}
    assert not sees(org.east_manager, row) and not sees(org.east_rep, row)
    assert sees(org.north_rep, row) and sees(org.north_other, row)


@pytest.mark.parametrize("model", MODELS)
def test_pool_return_hides_the_rows_from_everyone_and_a_claim_shows_them_to_the_claimer(org, customer, model):
    company_pool()
    row = row_of(model, customer)
    pool_services.pool_customer_release(user=org.east_rep, customer=customer, reason="无意向")
    assert copies(row)["owner_id"] is None
    for user in (org.ceo, org.admin, org.east_manager, org.east_rep):
        assert not sees(user, row)
    pool_services.pool_customer_claim(user=org.north_other, customer=customer)
    assert copies(row) == of(customer)
    assert sees(org.north_other, row) and sees(org.north_rep, row)
    assert not sees(org.east_manager, row)


@pytest.mark.parametrize("model", MODELS)
def test_the_recycle_bin_hides_the_rows_from_everyone_until_restored(org, customer, model):
    row = row_of(model, customer)
    services.customer_delete(user=org.east_rep, customer=customer)
    for user in (org.ceo, org.admin, org.east_manager, org.east_rep):
        assert not sees(user, row)
    services.customer_restore(user=org.east_rep, customer=customer)
    assert sees(org.east_rep, row) and sees(org.east_manager, row)


@pytest.mark.parametrize("model", MODELS)
def test_a_team_member_sees_the_rows_while_on_the_team(org, customer, model):
    row = row_of(model, customer)
    assert not sees(org.north_other, row)
    services.customer_team_member_set(
        user=org.east_rep, customer=customer, member=org.north_other, access=TeamAccess.READ
    )
    assert sees(org.north_other, row)
    services.customer_team_member_remove(user=org.east_rep, customer=customer, member=org.north_other)
    assert not sees(org.north_other, row)


@pytest.mark.parametrize("model", MODELS)
def test_the_scope_is_the_customers_for_every_user(org, model):
    """Customers of every owner, in a pool, in the recycle bin, shared: each user sees exactly the
    rows of the customers they see."""
    company_pool()
    customers = [
        CustomerFactory(owner=owner, department=owner.department)
        for owner in (org.east_rep, org.east_intern, org.south_rep, org.north_other, org.s2_rep, org.east_manager)
    ]
    pooled = CustomerFactory(owner=None, department=None)
    binned = CustomerFactory(owner=org.east_rep, department=org.departments["east"], deleted_at=timezone.now())
    services.customer_team_member_set(
        user=org.north_other, customer=customers[3], member=org.east_rep, access=TeamAccess.READ
    )
    for customer in [*customers, pooled, binned]:
        row_of(model, customer)
    for user in org.users.values():
        user = fresh(user)
        visible = set(model.objects.visible_to(user).values_list("pk", flat=True))
        assert visible == joined_rule(model, fresh(user)), user.username
        arms = Customer.objects.carried_scope_arms(fresh(user))
        assert set().union(*(model.objects.filter(arm).values_list("pk", flat=True) for arm in arms)) == visible
