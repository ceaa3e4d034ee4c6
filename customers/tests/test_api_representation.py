"""The customer serializer's planned representation (built from attributes, see
PlannedRepresentationMixin) gives exactly what DRF's field-by-field path gives."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from customers import selectors
from customers.api.serializers import ContactSerializer, CustomerSerializer
from customers.tests.factories import (
    ContactFactory,
    CustomerFactory,
    CustomerLevelFactory,
    IndustryFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def _context(user):
    request = Request(APIRequestFactory().get("/"))
    request.user = user
    return {"request": request}


def test_planned_representation_matches_drf(org):
    level = CustomerLevelFactory(code="A")
    industry = IndustryFactory()
    tags = [TagFactory(name="b标签"), TagFactory(name="a标签")]
    full = CustomerFactory(
        owner=org.east_rep,
        name="上海华为技术有限公司",
        mobile="13800138000",
        phone="021-12345678",
        email="a@example.com",
        level=level,
        industry=industry,
        province="310000",
        city="310100",
        district="310115",
        next_follow_up_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        last_follow_up_at=datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
        custom_fields={"budget": 12.5, "channel": "招标", "tags": ["a", "b"]},
    )
    full.tags.set(tags)
    bare = CustomerFactory(owner=None, department=None, name="个人客户")
    ContactFactory(customer=full)
    with timezone.override("Asia/Shanghai"):
        for customer in selectors.customer_list(user=org.ceo).filter(pk__in=[full.pk, bare.pk]):
            serializer = CustomerSerializer(context=_context(org.ceo))
            planned = serializer.planned_representation(customer)
            assert planned == serializers.ModelSerializer.to_representation(serializer, customer)
            assert list(planned) == list(serializer.fields)
        planned = CustomerSerializer(
            selectors.customer_get_for_user(user=org.ceo, pk=full.pk), context=_context(org.ceo)
        )
        assert planned.data["tags"] == [tags[1].pk, tags[0].pk]  # by name, as prefetched
        assert planned.data["next_follow_up_at"] == "2026-01-02T11:04:05.678901+08:00"
        assert planned.data["owner_name"] == org.east_rep.display_name
        for contact in selectors.contact_list(user=org.ceo):
            serializer = ContactSerializer(context=_context(org.ceo))
            assert serializer.planned_representation(contact) == serializers.ModelSerializer.to_representation(
                serializer, contact
            )


def test_unknown_field_kinds_take_drf_path(org):
    class WithDecimal(CustomerSerializer):
        budget = serializers.DecimalField(source="version", max_digits=5, decimal_places=1, read_only=True)

        class Meta(CustomerSerializer.Meta):
            fields = [*CustomerSerializer.Meta.fields, "budget"]

    customer = CustomerFactory(owner=org.east_rep)
    serializer = WithDecimal(context=_context(org.ceo))
    row = selectors.customer_get_for_user(user=org.ceo, pk=customer.pk)
    assert serializer.planned_representation(row)["budget"] == "1.0"
    assert WithDecimal._plan == []
