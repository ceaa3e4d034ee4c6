"""The contract list counted and paged rule by rule of the caller's scope (ContractListPagination):
the same rows, in the same order and with the same count, as the scope's OR — for every kind of
scope, with filters, other orderings and pages cut anywhere."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from contracts.models import Contract, ContractStatus
from contracts.tests.factories import ContractFactory
from customers.tests.factories import CustomerFactory

LIST = reverse("api:contract-list")
USERS = ["ceo", "s1_director", "east_manager", "east_lead", "east_rep", "north_rep", "south_rep", "norole"]


@pytest.fixture
def contracts(org):
    """Contracts of every user, some of them in another department than their owner's (moved
    owners: both rules match some rows), a few of a customer in the recycle bin, and equal
    update times (the id breaks the tie)."""
    today = timezone.localdate()
    statuses = [ContractStatus.ACTIVE, ContractStatus.COMPLETED, ContractStatus.DRAFT]
    moment = timezone.now()
    made = []
    for index, user in enumerate(user for _name, user in sorted(org.users.items())):
        for n in range(4):
            department = user.department if n != 3 else org.departments["east"]
            made.append(
                ContractFactory(
                    owner=user,
                    department=department,
                    status=statuses[(index + n) % 3],
                    signed_date=today - datetime.timedelta(days=30 * n + index),
                    total=Decimal(1000 + 10 * ((index * 7 + n) % 50)),
                )
            )
    binned = CustomerFactory(owner=org.east_rep, department=org.departments["east"])
    ContractFactory(owner=org.east_rep, customer=binned, status=ContractStatus.ACTIVE)
    binned.deleted_at = timezone.now()
    binned.save()
    # Update times: pairs of equal moments, newest for the last made.
    for index, contract in enumerate(made):
        Contract.objects.filter(pk=contract.pk).update(updated_at=moment - datetime.timedelta(minutes=index // 2))
    return made


def _walk(client, params):
    """Every page of the list, following ``next``: (ids in order, the first page's count)."""
    response = client.get(LIST, params)
    assert response.status_code == 200, response.content
    body = response.json()
    count, ids = body["count"], [row["id"] for row in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        ids += [row["id"] for row in body["results"]]
    return ids, count


def _expected(user, filters, ordering):
    rows = Contract.objects.visible_to(user).filter(**filters)
    if ordering == "-total":
        return list(rows.order_by("-total", "-id").values_list("pk", flat=True))
    return list(rows.order_by("-updated_at", "-id").values_list("pk", flat=True))


@pytest.mark.parametrize("username", USERS)
def test_pages_by_rule_are_the_scopes_rows_in_order(org, client_for, contracts, username):
    user = org.users[username]
    client = client_for(user)
    today = timezone.localdate()
    cases = [
        ({}, {}),
        ({"status": "active"}, {"status": ContractStatus.ACTIVE}),
        (
            {"status": ["active", "completed"], "signed_after": (today - datetime.timedelta(days=70)).isoformat()},
            {
                "status__in": [ContractStatus.ACTIVE, ContractStatus.COMPLETED],
                "signed_date__gte": today - datetime.timedelta(days=70),
            },
        ),
    ]
    for params, filters in cases:
        for page_size in (1, 3, 50):
            ids, count = _walk(client, {**params, "page_size": page_size})
            expected = _expected(user, filters, None)
            assert ids == expected, (params, page_size)
            assert count == len(expected)
        # Another ordering (the totals are nearly unique, as cursor pages need).
        ids, _count = _walk(client, {**params, "page_size": 4, "ordering": "-total"})
        expected = _expected(user, filters, "-total")
        assert sorted(ids) == sorted(expected), params
        totals = dict(Contract.objects.filter(pk__in=ids).values_list("pk", "total"))
        assert [totals[pk] for pk in ids] == sorted(totals.values(), reverse=True)


def test_a_department_manager_is_paged_rule_by_rule(org, client_for, contracts, django_assert_max_num_queries):
    # Both rules hold rows: own contracts filed in another department, and the department's.
    manager = org.east_manager
    own_elsewhere = ContractFactory(owner=manager, department=org.departments["north"])
    Contract.objects.filter(pk=own_elsewhere.pk).update(updated_at=F("updated_at") + datetime.timedelta(days=1))
    arms = Contract.objects.scope_arms(manager)
    assert len(arms) == 2
    ids, count = _walk(client_for(manager), {"page_size": 2})
    assert ids[0] == own_elsewhere.pk
    assert ids == _expected(manager, {}, None) and count == len(ids)
    # A page costs the same statements however many rows the rules hold.
    with django_assert_max_num_queries(8):
        client_for(manager).get(LIST, {"page_size": 20})
