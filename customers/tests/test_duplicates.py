"""The duplicate check (客户查重): normalisation, matching across the whole company, and what a
caller is shown of a candidate."""

import pytest
from django.db import connection

from customers import selectors
from customers.duplicates import (
    DuplicateMatch,
    find_duplicates,
    find_duplicates_many,
    normalize_company_name,
)
from customers.tests.factories import ContactFactory, CustomerFactory, make_customer

# Two spellings of one company: the same key, or keys pg_trgm finds similar (≥ 0.6).
DUPLICATE_PAIRS = [
    ("上海华为技术有限公司", "华为技术（上海）有限公司"),
    ("华为技术有限公司上海分公司", "华为技术有限公司"),
    ("阿里巴巴（中国）有限公司", "阿里巴巴集团"),
    ("腾讯科技（深圳）有限公司", "深圳市腾讯科技有限公司"),
    ("北京小米科技有限责任公司", "小米科技有限责任公司"),
    ("北京京东世纪贸易有限公司", "京东世纪贸易有限公司"),
    ("中国平安保险（集团）股份有限公司", "平安保险集团"),
    ("美的集团股份有限公司", "美的集团"),
    ("杭州海康威视数字技术股份有限公司", "海康威视数字技术股份有限公司"),
    ("上海浦东发展银行股份有限公司", "浦东发展银行"),
    ("Huawei Technologies Co., Ltd.", "ＨＵＡＷＥＩ　ＴＥＣＨＮＯＬＯＧＩＥＳ　ＣＯ．，ＬＴＤ．"),
    ("Apple (China) Limited", "Apple Inc."),
    ("ＡＢＣ（北京·朝阳）科技有限公司", "abc科技有限公司"),
    ("上海汉得信息技术股份有限公司", "汉得信息技术有限公司"),
    ("深圳市大疆创新科技有限公司", "大疆创新科技有限公司（深圳）"),
]

# Different companies: keys below the threshold.
DISTINCT_PAIRS = [
    ("华为", "华夏"),
    ("北京银行", "上海银行"),
    ("中国银行", "中国人民银行"),
    ("北京大学", "南京大学"),
    ("华为技术有限公司", "华为投资控股有限公司"),
    ("小米科技有限公司", "小米金融有限公司"),
    ("阿里巴巴集团", "阿里云计算有限公司"),
    ("Apple Inc.", "Applied Materials, Inc."),
    ("上海华为技术有限公司", "上海华谊集团"),
    ("腾讯科技有限公司", "腾讯音乐娱乐集团"),
    ("中信银行股份有限公司", "中信证券股份有限公司"),
    ("万科企业股份有限公司", "万达集团股份有限公司"),
    ("测试客户12有限公司", "测试客户13有限公司"),
]


def _similarity(a, b):
    with connection.cursor() as cursor:
        cursor.execute("SELECT similarity(%s, %s)", [a, b])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize(("a", "b"), DUPLICATE_PAIRS)
def test_duplicate_pairs_are_similar(a, b):
    key_a, key_b = normalize_company_name(a), normalize_company_name(b)
    assert key_a and key_b
    assert _similarity(key_a, key_b) >= 0.6, (key_a, key_b)


@pytest.mark.django_db
@pytest.mark.parametrize(("a", "b"), DISTINCT_PAIRS)
def test_distinct_pairs_are_not(a, b):
    key_a, key_b = normalize_company_name(a), normalize_company_name(b)
    assert _similarity(key_a, key_b) < 0.6, (key_a, key_b)


def test_normalisation_details():
    assert normalize_company_name("上海华为技术有限公司") == "华为技术"
    assert normalize_company_name("华为技术（上海）有限公司") == "华为技术"
    # Without stripping the leading region the two are far apart: what the rule is for.
    assert normalize_company_name("北京银行") == "北京银行"  # nothing meaningful would remain
    assert normalize_company_name("  ＨＵＡＷＥＩ  ") == "huawei"
    assert normalize_company_name("广西壮族自治区南宁市某某科技有限公司") == "某某科技"
    assert normalize_company_name("有限公司") == ""
    assert normalize_company_name("") == ""
    assert normalize_company_name(None) == ""
    assert len(normalize_company_name("长" * 300)) == 200


@pytest.mark.django_db
def test_leading_region_matters_for_trigrams():
    """The reason for stripping the leading region: unstripped, pg_trgm puts them at ~0.33."""
    assert _similarity("上海华为技术", "华为技术") < 0.4
    assert _similarity(normalize_company_name("上海华为技术有限公司"), "华为技术") == 1.0


@pytest.fixture
def company(org):
    """Customers across the company: an owned one in another department, one in the pool, one in
    the recycle bin, a person, and contacts."""
    huawei = CustomerFactory(
        name="华为技术（上海）有限公司",
        name_key=normalize_company_name("华为技术（上海）有限公司"),
        owner=org.s2_rep,
        mobile="13900000001",
        email="sales@huawei.example",
        credit_code="91440300708461136T",
    )
    pool = CustomerFactory(name="华夏银行股份有限公司", name_key=normalize_company_name("华夏银行"), owner=None)
    deleted = CustomerFactory(
        name="上海华为技术有限公司", name_key="华为技术", owner=org.east_rep, mobile="13900000009"
    )
    from django.utils import timezone

    deleted.deleted_at = timezone.now()
    deleted.save(update_fields=["deleted_at"])
    person = CustomerFactory(name="华为技术", name_key="华为技术", kind="person", owner=org.east_rep)
    contact_of = CustomerFactory(name="某某贸易", name_key="某某贸易", owner=org.north_rep)
    ContactFactory(customer=contact_of, mobile="13700000002", email="li@trade.example")
    return {"huawei": huawei, "pool": pool, "deleted": deleted, "person": person, "contact_of": contact_of}


@pytest.mark.django_db
def test_find_duplicates_across_company(company):
    matches = find_duplicates(data={"name": "上海华为技术有限公司", "kind": "company"})
    assert [match.customer_id for match in matches] == [company["huawei"].pk]  # not the person, not deleted
    assert matches[0].reasons == [{"field": "name", "similarity": 1.0}]

    by_mobile = find_duplicates(data={"name": "无关公司", "mobile": "13900000001"})
    assert [(m.customer_id, m.reasons) for m in by_mobile] == [
        (company["huawei"].pk, [{"field": "mobile", "similarity": 1.0}])
    ]
    by_contact = find_duplicates(data={"mobile": "137 0000 0002", "email": "li@TRADE.example"})
    assert by_contact[0].customer_id == company["contact_of"].pk
    assert {r["field"] for r in by_contact[0].reasons} == {"contact_mobile", "contact_email"}
    by_code = find_duplicates(data={"credit_code": "91440300708461136t"})
    assert by_code[0].customer_id == company["huawei"].pk

    # Several reasons on one candidate; exact matches rank first.
    both = find_duplicates(data={"name": "华夏银行", "email": "sales@huawei.example"})
    assert [m.customer_id for m in both] == [company["huawei"].pk, company["pool"].pk]
    # The pool is searched too; a person's name is not compared.
    assert find_duplicates(data={"name": "华夏银行有限公司"})[0].customer_id == company["pool"].pk
    assert find_duplicates(data={"name": "华为技术", "kind": "person"}) == []
    # Excluding the record itself (update); nothing to compare.
    assert find_duplicates(data={"name": "华为技术有限公司"}, exclude_ids=[company["huawei"].pk]) == []
    assert find_duplicates(data={}) == []
    assert find_duplicates(data={"name": "华为"}) == []  # 华为 vs 华为技术: 0.43


@pytest.mark.django_db
def test_find_duplicates_limit_and_threshold(org, settings):
    for index in range(12):
        CustomerFactory(name=f"星河{index}", name_key=f"星河科技集团{index:02d}", owner=org.east_rep)
    assert len(find_duplicates(data={"name_key": "星河科技集团00", "name": "x"})) == 10
    assert len(find_duplicates(data={"name": "星河科技集团00"}, limit=3)) == 3
    settings.CUSTOMER_DUPLICATE_NAME_SIMILARITY = 0.99
    assert len(find_duplicates(data={"name": "星河科技集团00"})) == 1


@pytest.mark.django_db
def test_threshold_is_put_back(company):
    with connection.cursor() as cursor:
        cursor.execute("SHOW pg_trgm.similarity_threshold")
        before = cursor.fetchone()[0]
    find_duplicates(data={"name": "华为技术"})
    with connection.cursor() as cursor:
        cursor.execute("SHOW pg_trgm.similarity_threshold")
        assert cursor.fetchone()[0] == before


@pytest.mark.django_db(transaction=True)
def test_check_works_on_a_fresh_connection(org):
    """The threshold setting exists only once pg_trgm's library is loaded in the session: the first
    check on a new connection (a worker's first task, seed_demo) must not depend on an earlier one."""
    CustomerFactory(name="华为技术有限公司", name_key=normalize_company_name("华为技术有限公司"), owner=org.east_rep)
    connection.close()
    matches = find_duplicates(data={"name": "上海华为技术有限公司"})
    assert [match.reasons[0]["field"] for match in matches] == ["name"]


@pytest.mark.django_db
def test_find_duplicates_many_matches_each_row_in_fixed_queries(company, django_assert_max_num_queries):
    rows = [
        {"name": "华为技术有限公司"},
        {"name": "全新公司"},
        {"name": "x", "mobile": "13700000002"},
        {"name": "华为技术有限公司", "id": company["huawei"].pk},  # the row updates that customer
        {"name": "华为技术", "kind": "person", "credit_code": "91440300708461136T"},
    ] * 200
    with django_assert_max_num_queries(3):
        found = find_duplicates_many(rows=rows)
    assert [m.customer_id for m in found[0]] == [company["huawei"].pk]
    assert 1 not in found
    assert found[2][0].customer_id == company["contact_of"].pk
    assert 3 not in found
    assert [m.reasons for m in found[4]] == [[{"field": "credit_code", "similarity": 1.0}]]
    assert [m.customer_id for m in found[995]] == [company["huawei"].pk]
    with pytest.raises(ValueError):
        find_duplicates_many(rows=[{"name": "a"}] * 1001)


@pytest.mark.django_db
def test_service_keeps_name_key(org):
    customer = make_customer(org.east_rep, name="上海华为技术有限公司")
    assert customer.name_key == "华为技术"
    from customers import services

    services.customer_update(user=org.east_rep, customer=customer, version=customer.version, data={"name": "华夏"})
    customer.refresh_from_db()
    assert customer.name_key == "华夏"
    customer.name = "北京小米科技有限公司"
    customer.save(update_fields=["name"])
    assert services.customer_name_key_refresh(customer_ids=[customer.pk]) == 1
    customer.refresh_from_db()
    assert customer.name_key == "小米科技"


@pytest.mark.django_db
def test_candidates_respect_scope(org, company):
    """Within scope: the full card, masked as the caller sees it. Outside (撞单): exists, owned by
    whom, last follow-up — no contact details, no id."""
    huawei = company["huawei"]
    matches = [
        DuplicateMatch(customer_id=huawei.pk, reasons=[{"field": "mobile", "similarity": 1.0}]),
        DuplicateMatch(customer_id=company["pool"].pk, reasons=[{"field": "name", "similarity": 0.7}]),
    ]
    outsider = selectors.duplicate_candidates(user=org.east_rep, matches=matches)
    assert outsider[0] == {
        "in_scope": False,
        "name": huawei.name,
        "in_pool": False,
        "owner_name": str(org.s2_rep),
        "department_name": org.s2_rep.department.name,
        "last_follow_up_at": None,
        "reasons": [{"field": "mobile", "similarity": 1.0, "label": "手机相同"}],
    }
    assert outsider[1]["in_pool"] is True and outsider[1]["owner_name"] == ""
    flat = repr(outsider)
    assert "13900000001" not in flat and "huawei.example" not in flat and str(huawei.pk) not in flat

    owner_view = selectors.duplicate_candidates(user=org.s2_rep, matches=matches[:1])[0]
    assert owner_view["in_scope"] is True
    assert owner_view["id"] == huawei.pk and owner_view["url"] == f"/customers/{huawei.pk}/"
    assert owner_view["mobile"] == "13900000001"  # the owner sees it in full
    manager_view = selectors.duplicate_candidates(user=org.ceo, matches=matches[:1])[0]
    assert manager_view["in_scope"] is True and manager_view["mobile"] != "13900000001"  # masked
    assert manager_view["mobile"].startswith("139") and "*" in manager_view["mobile"]
