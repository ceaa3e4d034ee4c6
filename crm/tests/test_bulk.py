"""copy_create stores what bulk_create stores."""

from datetime import datetime

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from crm.bulk import copy_create
from customers.models import Customer
from customers.tests.factories import CustomerLevelFactory

pytestmark = pytest.mark.django_db(transaction=False)

AUTOMATIC = {"id", "created_at", "updated_at"}


def _customer(org, index, **extra):
    values = dict(
        name=f"上海云帆{index}科技有限公司",
        name_key=f"云帆{index}",
        mobile=f"1380013800{index}",
        email=f"info{index}@yunfan.com",
        remark="第一行\n第二行\t制表符 \\ 反斜杠",
        custom_fields={"budget": 12.5, "since": "2024-01-02", "tags": ["甲", "乙"], "note": None},
        level=CustomerLevelFactory(),
        owner=org.east_rep,
        department=org.departments["east"],
        created_by=org.east_rep,
        next_follow_up_at=datetime.fromisoformat("2026-03-04T05:06:07+08:00"),
    )
    return Customer(**{**values, **extra})


def _stored(customer):
    return {
        name: value
        for name, value in model_to_dict(Customer.objects.get(pk=customer.pk)).items()
        if name not in AUTOMATIC | {"tags"}
    }


def test_rows_are_stored_as_bulk_create_stores_them(org):
    copied = [_customer(org, index) for index in range(3)]
    bulk = [_customer(org, index) for index in range(3)]

    copy_create(Customer, copied)
    Customer.objects.bulk_create(bulk)

    for one, other in zip(copied, bulk, strict=True):
        assert _stored(one) == {**_stored(other), "level": _stored(one)["level"]}
        assert _stored(one)["custom_fields"] == _customer(org, 0).custom_fields
        assert _stored(one)["remark"] == "第一行\n第二行\t制表符 \\ 反斜杠"


def test_objects_get_their_keys_and_automatic_values(org):
    customers = [_customer(org, index) for index in range(2)]
    before = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    copy_create(Customer, customers)

    assert all(customer.pk > before for customer in customers)
    assert len({customer.pk for customer in customers}) == 2
    for customer in customers:
        stored = Customer.objects.get(pk=customer.pk)
        assert customer.created_at is not None and stored.created_at == customer.created_at
        assert stored.updated_at == customer.updated_at
        assert not customer._state.adding
    # The sequence moved past them: the next ordinary insert does not collide.
    assert Customer.objects.bulk_create([_customer(org, 9)])[0].pk > max(c.pk for c in customers)


def test_a_given_key_is_kept_and_an_identity_key_is_drawn(org):
    history_model = Customer.history.model
    customer = copy_create(Customer, [_customer(org, 1)])[0]
    tracked = {field.attname: getattr(customer, field.attname) for field in history_model.tracked_fields}
    rows = [history_model(history_date=customer.created_at, history_type="+", **tracked)]

    copy_create(history_model, rows)

    assert rows[0].history_id is not None
    stored = history_model.objects.get(history_id=rows[0].history_id)
    assert stored.id == customer.pk and stored.name == customer.name and stored.history_type == "+"


def test_a_bad_row_raises_the_database_error_and_writes_nothing(org):
    customers = [_customer(org, 1), _customer(org, 2, name=None)]
    count = Customer.objects.count()

    with pytest.raises(IntegrityError), transaction.atomic():
        copy_create(Customer, customers)

    assert Customer.objects.count() == count


def test_nothing_to_insert_sends_nothing(org, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert copy_create(Customer, []) == []
