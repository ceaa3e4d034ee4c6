"""The export's batch path (values_list rows, names per export, masking per row from
``Presenter.row_masker`` and ``full_contact_rule``) against the per-record path the pages use:
each record through ``Presenter.record``, masked by ``sees_full_contact``, every value as the
export formatted it before. The two must give the same cells for every kind of viewer."""

import csv
import datetime
import io

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from crm import regions
from crm.xlsx import _cell, _cells
from customers import selectors
from customers.custom_fields import definitions
from customers.models import CustomerKind, DealStatus
from customers.presenters import Presenter, custom_display
from customers.tests.factories import (
    ContactFactory,
    CustomerFactory,
    CustomerLevelFactory,
    CustomFieldFactory,
    IndustryFactory,
    SourceFactory,
    TagFactory,
)
from imports import services
from imports.exporting import CONTACT_COLUMNS, CUSTOMER_COLUMNS
from imports.models import ExportJob
from imports.workbooks import neutralise, neutralise_row
from staff.models import FieldPermission
from staff.teams import TeamAccess

pytestmark = pytest.mark.django_db


def _old_text(value):
    """The export's cell text before the batch path (imports.exporting._text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _customer_record(customer):
    return {
        "name": customer.name,
        "kind": str(dict(CustomerKind.choices)[customer.kind]),
        "credit_code": customer.credit_code,
        "mobile": customer.mobile,
        "phone": customer.phone,
        "email": customer.email,
        "industry": customer.industry.name if customer.industry else "",
        "source": customer.source.name if customer.source else "",
        "level": str(customer.level) if customer.level else "",
        "tags": "、".join(tag.name for tag in customer.tags.all()),
        "province": regions.region_name(customer.province) or "",
        "city": regions.region_name(customer.city) or "",
        "district": regions.region_name(customer.district) or "",
        "address": customer.address,
        "website": customer.website,
        "owner": str(customer.owner) if customer.owner else "公海",
        "department": str(customer.department) if customer.department else "",
        "deal_status": str(dict(DealStatus.choices)[customer.deal_status]),
        "next_follow_up_at": customer.next_follow_up_at,
        "last_follow_up_at": customer.last_follow_up_at,
        "remark": customer.remark,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "custom_fields": dict(customer.custom_fields or {}),
    }


def _contact_record(contact):
    record = {key: getattr(contact, key) for key, _label in CONTACT_COLUMNS if key != "customer"}
    return {"customer": contact.customer.name, **record, "custom_fields": dict(contact.custom_fields or {})}


def per_record_rows(user, target):
    """Header and rows as the per-record path shows ``user`` everything they may see."""
    presenter = Presenter(user, target)
    if target == "customer":
        columns, records = CUSTOMER_COLUMNS, selectors.customer_list(user=user).order_by("pk")
        shape, full = _customer_record, lambda customer: selectors.sees_full_contact(user=user, customer=customer)
    else:
        columns, records = CONTACT_COLUMNS, selectors.contact_list(user=user).order_by("pk")
        shape, full = _contact_record, lambda contact: selectors.contact_sees_full(user=user, contact=contact)
    builtin = [(key, label) for key, label in columns if key not in presenter.hidden]
    custom = [d for d in definitions(target) if f"cf.{d.key}" not in presenter.hidden]
    rows = [[str(label) for _key, label in builtin] + [d.label for d in custom]]
    for record in records:
        data = presenter.record(shape(record), full=full(record))
        values = [_old_text(data.get(key)) for key, _label in builtin]
        values += [custom_display(d, data["custom_fields"].get(d.key)) for d in custom]
        rows.append([neutralise(value) for value in values])
    return rows


def exported_rows(user, target):
    job = services.export_start(user=user, target=target, file_format="csv", params={})
    services.export_run(job_id=job.pk)
    job = ExportJob.objects.get(pk=job.pk)
    assert job.status == "done", job.message
    with job.file.open("rb") as handle:
        return list(csv.reader(io.StringIO(handle.read().decode("utf-8-sig"))))


@pytest.fixture
def book(org):
    """Customers and contacts with every kind of value: lookups, tags, regions, datetimes, custom
    fields (phone and e-mail ones are masked), formula-like text; owned by the east team, one of
    north_other's shared with east_lead as a team member, one in the pool."""
    CustomFieldFactory(key="backup_phone", label="备用电话", type="phone", order=1)
    CustomFieldFactory(key="backup_email", label="备用邮箱", type="email", order=2)
    CustomFieldFactory(key="vip", label="重点", type="boolean", order=3)
    CustomFieldFactory(key="channels", label="渠道", type="multi_choice", choices=["线上", "线下"], order=4)
    CustomFieldFactory(key="budget", label="预算", type="number", order=5)
    CustomFieldFactory(key="old", label="停用", is_active=False)
    CustomFieldFactory(target="contact", key="qq", label="QQ", type="phone")
    lookups = {
        "level": CustomerLevelFactory(code="A", name="重要"),
        "source": SourceFactory(name="展会"),
        "industry": IndustryFactory(name="=制造"),
    }
    [zebra, apple] = [TagFactory(name="b老客户"), TagFactory(name="a新签")]
    moment = datetime.datetime(2026, 3, 1, 17, 5, 59, tzinfo=datetime.UTC)  # 01:05 the next day in Shanghai
    full = CustomerFactory(
        name="甲有限公司",
        owner=org.east_rep,
        mobile="13800138000",
        phone="010-62345678",
        email="zhang@example.com",
        province="440000",
        city="440300",
        district="440305",
        remark="-备注",
        next_follow_up_at=moment,
        last_follow_up_at=moment - datetime.timedelta(days=400),
        custom_fields={
            "backup_phone": "13900139000",
            "backup_email": "li@example.com",
            "vip": True,
            "channels": ["线上", "线下"],
            "budget": 12.5,
            "old": "x",
            "gone": "deleted definition",
        },
        **lookups,
    )
    full.tags.set([zebra, apple])
    CustomerFactory(
        name="乙有限公司",
        owner=org.east_intern,
        mobile="13700137000",
        custom_fields={"vip": False, "backup_phone": 123},
    )
    shared = CustomerFactory(name="丙有限公司", owner=org.north_other, email="wang@example.com")
    services_team_member(org, shared)
    CustomerFactory(name="公海客户", owner=None, mobile="13600136000")
    CustomerFactory(name="华北有限公司", owner=org.north_rep, mobile="13500135000")
    ContactFactory(customer=full, name="张伟", mobile="13800000001", email="zw@example.com", is_primary=True)
    ContactFactory(
        customer=shared,
        name="@李娜",
        mobile="13800000002",
        birthday=datetime.date(1990, 5, 6),
        custom_fields={"qq": "13800000003"},
    )


def services_team_member(org, customer):
    from customers import services as customer_services

    customer_services.customer_team_member_set(
        user=org.north_other, customer=customer, member=org.east_lead, access=TeamAccess.READ
    )


@pytest.mark.parametrize("target", ["customer", "contact"])
@pytest.mark.parametrize("username", ["east_rep", "east_lead", "ceo", "north_rep", "admin"])
def test_batch_rows_equal_the_per_record_rows(org, book, target, username):
    user = getattr(org, username)
    expected = per_record_rows(user, target)
    assert len(expected) > 1
    assert exported_rows(user, target) == expected


@pytest.mark.parametrize("target", ["customer", "contact"])
def test_hidden_fields_and_custom_fields_as_the_per_record_path(org, book, target):
    for field in ("email", "cf.backup_email", "cf.qq", "tags", "owner"):
        FieldPermission.objects.create(
            role=org.roles["self_and_subordinates"], target=target, field=field, access="hidden"
        )
    expected = per_record_rows(org.east_lead, target)
    got = exported_rows(org.east_lead, target)
    assert got == expected
    assert "邮箱" not in got[0] and "备用邮箱" not in got[0] and "QQ" not in got[0]


def test_masking_follows_ownership_team_membership_and_the_reveal_setting(org, book, settings):
    def by_name(rows):
        return {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}

    lead = by_name(exported_rows(org.east_lead, "customer"))
    assert lead["乙有限公司"]["手机"] == "137****7000"  # a subordinate's customer: masked
    assert lead["丙有限公司"]["邮箱"] == "wang@example.com"  # a team member sees it in full
    assert lead["甲有限公司"]["备用电话"] == "139****9000"
    assert lead["甲有限公司"]["下次联系时间"] == "2026-03-02 01:05"
    assert lead["甲有限公司"]["标签"] == "a新签、b老客户"  # by name, not as set
    assert lead["甲有限公司"]["行业"] == "'=制造" and lead["甲有限公司"]["备注"] == "'-备注"
    assert lead["甲有限公司"]["区县"] == "南山区"
    assert lead["乙有限公司"]["备用电话"] == "123"  # not text: shown, not masked
    assert "公海客户" not in by_name(exported_rows(org.admin, "customer"))  # the pool: in nobody's scope
    settings.CONTACT_REVEAL_REQUIRED = False  # holders of "view full contact details" see them in full
    assert by_name(exported_rows(org.east_lead, "customer"))["乙有限公司"]["手机"] == "13700137000"
    assert exported_rows(org.east_lead, "customer") == per_record_rows(org.east_lead, "customer")


def test_query_count_does_not_grow_with_the_rows(org, book, django_assert_max_num_queries):
    # Warm-up: the caches a first export fills (permissions, content types).
    exported_rows(org.east_rep, "customer")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        exported_rows(org.east_rep, "customer")
    for index in range(30):
        CustomerFactory(name=f"新客户{index}", owner=org.east_rep, mobile="13800138000").tags.set([TagFactory()])
    with django_assert_max_num_queries(len(few)):
        rows = exported_rows(org.east_rep, "customer")
    assert len(rows) == 1 + 31


text = st.text(alphabet=st.sampled_from("ab 甲\n\r\t&<>=+-@'\"\x00\x1f"), max_size=6)


@given(st.lists(st.one_of(text, st.none(), st.integers(), st.booleans()), max_size=6))
def test_whole_row_cells_are_the_cells_one_at_a_time(values):
    assert _cells(values) == "".join(map(_cell, values))


@given(st.lists(st.one_of(text, st.none(), st.integers()), max_size=6))
def test_neutralise_row_is_neutralise_on_each_value(values):
    expected = [neutralise(value) for value in values]
    assert neutralise_row(list(values)) == expected
