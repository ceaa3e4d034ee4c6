"""RecordValidator: the form's rules for many rows, built once per run."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.errors import DomainError
from customers.models import CustomerLevel
from customers.services import RecordValidator
from customers.tests.factories import IndustryFactory, SourceFactory, TagFactory

pytestmark = pytest.mark.django_db


def rows(count, level, source, industry, tag):
    return [
        {
            "name": f"客户{i}有限公司",
            "mobile": f"1380013{i:04d}",
            "level": level.pk,
            "source": source.pk,
            "industry": industry.pk,
            "tags": [tag.pk],
            "province": "310000",
        }
        for i in range(count)
    ]


def test_validating_more_rows_asks_the_database_nothing_more(org, django_assert_max_num_queries):
    level, source, industry, tag = CustomerLevel.objects.first(), SourceFactory(), IndustryFactory(), TagFactory()
    validator = RecordValidator(user=org.east_rep, target="customer")

    with CaptureQueriesContext(connection) as few:
        for data in rows(3, level, source, industry, tag):
            validator.validate(data)
    with django_assert_max_num_queries(0):
        for data in rows(30, level, source, industry, tag):
            validator.validate(data)
    assert len(few) > 0  # the lookups were loaded once, by the first rows


def test_each_row_is_judged_on_its_own(org):
    validator = RecordValidator(user=org.east_rep, target="customer")

    with pytest.raises(DomainError) as bad_mobile:
        validator.validate({"name": "甲有限公司", "mobile": "123"})
    level = CustomerLevel.objects.first()
    good = validator.validate({"name": "乙有限公司", "mobile": "13800138000", "level": level.pk})
    with pytest.raises(DomainError) as bad_level:
        validator.validate({"name": "丙有限公司", "level": 999999})

    assert set(bad_mobile.value.fields) == {"mobile"}
    assert good.cleaned_data["mobile"] == "13800138000" and good.instance.name == "乙有限公司"
    assert set(bad_level.value.fields) == {"level"}
    assert good.instance.pk is None and good.instance is not validator.prototype.instance


def test_a_row_naming_a_level_removed_since_the_run_began_is_refused(org):
    level = CustomerLevel.objects.create(code="Z", name="临时")
    validator = RecordValidator(user=org.east_rep, target="customer")
    validator.validate({"name": "甲有限公司", "level": level.pk})
    before = validator.fingerprint()

    level.delete()

    assert validator.fingerprint() != before
    assert RecordValidator(user=org.east_rep, target="customer").fingerprint() == validator.fingerprint()
