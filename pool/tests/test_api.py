"""The pool API: who sees which pool's customers (trying to break it), masking, the actions and
their 404s outside scope, errors in the shared shape, and the list's query budget."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from customers.models import Customer
from pool import services
from pool.models import PoolEvent
from pool.tests.factories import company_pool, in_pool, owned


@pytest.fixture
def pools(org):
    company = company_pool()
    north = services.pool_create(name="华北公海", departments=[org.departments["s2"]], admins=[org.north_other])
    return {"company": company, "north": north}


@pytest.fixture
def customers(pools):
    return {
        "unstated": in_pool(None, name="无状态客户"),  # no state row: the default pool
        "company": in_pool(pools["company"], name="公司公海客户"),
        "north": in_pool(pools["north"], name="华北公海客户"),
    }


# Who sees which pool customers: the company pool serves everyone; the north pool serves 销售二部
# and below (north_rep, north_other, s2_rep). Superusers see every pool; inactive users nothing.
POOL_EXPECTED = {
    "ceo": {"unstated", "company"},
    "admin": {"unstated", "company", "north"},
    "east_rep": {"unstated", "company"},
    "north_rep": {"unstated", "company", "north"},
    "north_other": {"unstated", "company", "north"},
    "s2_rep": {"unstated", "company", "north"},
    "norole": {"unstated", "company"},
}


@pytest.mark.parametrize("username", sorted(POOL_EXPECTED))
def test_pool_list_and_detail_scope(org, client_for, customers, username):
    owned(org.east_rep, name="私海客户")
    client = client_for(org.users[username])

    response = client.get(reverse("api:pool-customer-list"), {"page_size": 200})
    assert response.status_code == 200, response.content
    listed = {row["id"] for row in response.json()["results"]}
    assert listed == {customers[key].pk for key in POOL_EXPECTED[username]}

    for key, customer in customers.items():
        detail = client.get(reverse("api:pool-customer-detail", args=[customer.pk]))
        assert detail.status_code == (200 if key in POOL_EXPECTED[username] else 404)


def test_an_owned_customer_is_not_in_the_pool_list(org, client_for, customers):
    mine = owned(org.east_rep)
    response = client_for(org.admin).get(reverse("api:pool-customer-detail", args=[mine.pk]))
    assert response.status_code == 404


def test_without_the_claim_permission_only_administered_pools(org, client_for, customers):
    claim = Permission.objects.get(codename="claim_customer")
    for role in org.roles.values():
        role.permissions.remove(claim)
    org.norole.user_permissions.remove(claim)
    assert client_for(org.east_rep).get(reverse("api:pool-customer-list")).json()["results"] == []
    listed = client_for(org.north_other).get(reverse("api:pool-customer-list")).json()["results"]
    assert [row["id"] for row in listed] == [customers["north"].pk]  # their own pool, as its admin


def test_pool_list_masks_contact_details(org, client_for, customers):
    row = client_for(org.ceo).get(reverse("api:pool-customer-detail", args=[customers["company"].pk])).json()
    assert row["mobile"] == "138****5678"
    assert row["pool_name"] == "公司公海"
    assert "owner" not in row
    unstated = client_for(org.ceo).get(reverse("api:pool-customer-detail", args=[customers["unstated"].pk])).json()
    assert unstated["pool_name"] == "公司公海"


def test_pool_list_filters_by_pool_and_name(org, client_for, customers, pools):
    client = client_for(org.north_rep)
    by_pool = client.get(reverse("api:pool-customer-list"), {"pool": pools["north"].pk}).json()["results"]
    assert [row["id"] for row in by_pool] == [customers["north"].pk]
    default = client.get(reverse("api:pool-customer-list"), {"pool": pools["company"].pk}).json()["results"]
    assert {row["id"] for row in default} == {customers["company"].pk, customers["unstated"].pk}
    # Someone else's pool is "not a valid choice", like a missing one.
    refused = client_for(org.east_rep).get(reverse("api:pool-customer-list"), {"pool": pools["north"].pk})
    assert refused.status_code == 400
    # The search box looks at names only (the hidden numbers are not searchable).
    found = client.get(reverse("api:pool-customer-list"), {"q": "华北公海"}).json()["results"]
    assert [row["id"] for row in found] == [customers["north"].pk]
    assert client.get(reverse("api:pool-customer-list"), {"q": "13812345678"}).json()["results"] == []


def test_pool_list_query_budget(org, client_for, pools, django_assert_max_num_queries):
    for index in range(25):
        in_pool(pools["company"] if index % 2 else None, name=f"公海客户{index}")
    client = client_for(org.east_rep)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("api:pool-customer-list"), {"page_size": 50})
    assert len(response.json()["results"]) == 25


def test_claim_and_the_race_loser_over_http(org, client_for, customers):
    url = reverse("api:customer-claim", args=[customers["company"].pk])
    won = client_for(org.east_rep).post(url)
    assert won.status_code == 200, won.content
    assert won.json() == {"id": customers["company"].pk, "owner": org.east_rep.pk, "locked": False}
    # Now it is the claimer's ordinary customer, contact details in full.
    detail = client_for(org.east_rep).get(reverse("api:customer-detail", args=[customers["company"].pk])).json()
    assert detail["mobile"] == "13812345678"
    # A second claimant: no longer in the pool, so the same 404 as any customer outside it.
    lost = client_for(org.north_rep).post(url)
    assert lost.status_code == 404


def test_claim_refusals_carry_the_shared_error_shape(org, client_for, customers):
    from pool.models import PoolSettings

    PoolSettings.objects.filter(pk=1).update(max_owned=0)
    response = client_for(org.east_rep).post(reverse("api:customer-claim", args=[customers["company"].pk]))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "owner_limit"
    assert response.json()["error"]["message"] == "拥有客户已达上限"
    assert Customer.objects.get(pk=customers["company"].pk).owner_id is None


def test_claim_of_another_pools_customer_is_404(org, client_for, customers):
    response = client_for(org.east_rep).post(reverse("api:customer-claim", args=[customers["north"].pk]))
    missing = client_for(org.east_rep).post(reverse("api:customer-claim", args=[customers["north"].pk + 10_000]))
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()
    assert not PoolEvent.objects.exists()


def test_release_lock_unlock_over_http(org, client_for, pools):
    mine = owned(org.east_rep)
    client = client_for(org.east_rep)
    assert client.post(reverse("api:customer-lock", args=[mine.pk])).json()["locked"] is True
    assert client.post(reverse("api:customer-unlock", args=[mine.pk])).json()["locked"] is False
    no_reason = client.post(reverse("api:customer-release", args=[mine.pk]), {}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["error"]["fields"]
    released = client.post(reverse("api:customer-release", args=[mine.pk]), {"reason": "无意向"}, format="json")
    assert released.json() == {"id": mine.pk, "owner": None, "locked": False}


@pytest.mark.parametrize("route", ["api:customer-release", "api:customer-lock", "api:customer-unlock"])
def test_actions_on_someone_elses_customer_are_404(org, client_for, pools, route):
    theirs = owned(org.north_other)
    response = client_for(org.east_rep).post(reverse(route, args=[theirs.pk]), {"reason": "x"}, format="json")
    assert response.status_code == 404
    assert Customer.objects.get(pk=theirs.pk).owner == org.north_other
    assert not PoolEvent.objects.exists()


def test_assign_over_http(org, client_for, customers):
    url = reverse("api:customer-assign", args=[customers["north"].pk])
    refused = client_for(org.north_other).post(url, {"to_user": org.east_rep.pk}, format="json")
    assert refused.status_code == 400 and "to_user" in refused.json()["error"]["fields"]
    unknown = client_for(org.north_other).post(url, {"to_user": 10_000_000}, format="json")
    assert unknown.status_code == 400
    done = client_for(org.north_other).post(url, {"to_user": org.s2_rep.pk, "reason": "行业对口"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["owner"] == org.s2_rep.pk
    # Not in east_rep's pools: 404 before any rule is checked.
    other = client_for(org.east_rep).post(
        reverse("api:customer-assign", args=[customers["company"].pk + 10_000]), {"to_user": org.east_rep.pk}
    )
    assert other.status_code == 404


def test_fields_hidden_from_the_viewer_are_neither_shown_nor_filterable(org, client_for, client, pools):
    """A role that hides a customer's level or province must not learn it from the pool list: not
    in the rows (``level_name`` included), not on the page, not by filtering on it."""
    from pool.tests.factories import levels
    from staff.models import FieldPermission

    level = levels()["A"]
    shanghai = in_pool(pools["company"], name="上海客户", province="310000", level=level)
    in_pool(pools["company"], name="北京客户", province="110000")
    for field in ("level", "province"):
        FieldPermission.objects.create(role=org.roles["self"], target="customer", field=field, access="hidden")

    api = client_for(org.east_rep)
    rows = api.get(reverse("api:pool-customer-list")).json()["results"]
    assert rows and all("level" not in row and "level_name" not in row and "province" not in row for row in rows)
    by_province = api.get(reverse("api:pool-customer-list"), {"province": "310000"}).json()["results"]
    by_level = api.get(reverse("api:pool-customer-list"), {"level": [level.pk]}).json()["results"]
    assert {row["name"] for row in by_province} == {row["name"] for row in by_level} == {"上海客户", "北京客户"}

    client.force_login(org.east_rep)
    page = client.get(reverse("pool:list")).content.decode()
    assert "上海客户" in page and f'd-sm-table-cell">{level.name}<' not in page
    assert shanghai.level == level  # it has one: the page just does not show it
