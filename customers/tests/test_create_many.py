"""customer_create_many: the bulk create writes what the single-record services would."""

import pytest

from customers.models import Customer
from customers.services import customer_create_many, customer_search_refresh
from customers.tests.factories import CustomerLevelFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_the_search_column_is_filled_as_the_refresh_fills_it(org):
    rows = [
        {
            "name": "上海云帆科技有限公司",
            "mobile": "138 0013 8000",
            "phone": "021-12345678",
            "email": "Info@YunFan.com",
            "credit_code": "91310115MA1K4AB1XK",
        },
        {"name": "张三", "kind": "person"},
    ]

    created = customer_create_many(user=org.east_rep, rows=rows)

    ids = [customer.pk for customer in created]
    written = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "search_text"))
    assert "上海云帆科技有限公司" in written[ids[0]] and "13800138000" in written[ids[0]]
    customer_search_refresh(customer_ids=list(written))
    assert dict(Customer.objects.filter(pk__in=list(written)).values_list("pk", "search_text")) == written


def test_each_new_customer_gets_one_created_history_row_with_its_tags(org):
    important, new = TagFactory(name="重要"), TagFactory(name="新客户")
    rows = [
        {"name": "上海云帆科技有限公司", "tags": [important.pk, new.pk]},
        {"name": "北京星河贸易有限公司", "tags": []},
        {"name": "张三", "kind": "person", "tags": [new.pk]},
    ]

    created = customer_create_many(user=org.east_rep, rows=rows, change_reason="导入：客户.xlsx")

    history = Customer.history.model
    for customer, row in zip(created, rows, strict=True):
        (record,) = history.objects.filter(id=customer.pk)
        assert record.history_type == "+"
        assert record.history_user_id == org.east_rep.pk
        assert record.history_change_reason == "导入：客户.xlsx"
        stored = Customer.objects.get(pk=customer.pk)
        for field in history.tracked_fields:
            assert getattr(record, field.attname) == getattr(stored, field.attname), field.name
        assert sorted(record.tags.values_list("tag_id", flat=True)) == sorted(row["tags"])
        assert sorted(tag.pk for tag in stored.tags.all()) == sorted(row["tags"])


def test_the_cleaned_rows_path_writes_what_the_rows_path_writes(org):
    from customers.services import RecordValidator

    level = CustomerLevelFactory()
    data = {"name": "上海云帆科技有限公司", "mobile": "138 0013 8000", "level": level.pk, "remark": "备注\n第二行"}
    validator = RecordValidator(user=org.east_rep, target="customer")
    cleaned = validator.cleaned_row(validator.validate(data))

    by_rows = customer_create_many(user=org.east_rep, rows=[data])[0]
    Customer.objects.filter(pk=by_rows.pk).update(name="另一家公司", name_key="另一家", mobile="")  # not a duplicate
    by_cleaned = customer_create_many(user=org.east_rep, cleaned_rows=[cleaned], validator=validator)[0]

    def stored(pk):
        return {
            field.attname: getattr(Customer.objects.get(pk=pk), field.attname)
            for field in Customer._meta.concrete_fields
            if field.attname not in ("id", "created_at", "updated_at", "name", "name_key", "mobile", "search_text")
        }

    assert stored(by_cleaned.pk) == stored(by_rows.pk)
    assert Customer.objects.get(pk=by_cleaned.pk).mobile == "13800138000"
