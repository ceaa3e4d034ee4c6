"""customer_create_many: the bulk create writes what the single-record services would."""

import pytest

from customers.models import Customer
from customers.services import customer_create_many, customer_search_refresh

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
