"""Pages: the profile card on the 360 page, the customer list's profile filters and sorting, and
the settings page with its recompute button and progress bar."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone

from analytics import selectors, services
from analytics.models import AnalyticsSettings, CustomerProfile
from analytics.services import PROGRESS_KEY
from analytics.tasks import profiles_recompute_all_task
from analytics.tests.helpers import buy, contact, days
from analytics.tests.test_engine import _drain
from customers.tests.factories import CustomerFactory
from staff.tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker():
    _drain()
    yield
    _drain()


def test_360_page_shows_the_profile_card_with_its_reasons(org, client):
    mine = CustomerFactory(owner=org.east_rep)
    buy(mine, on=timezone.localdate() - days(12), total="3456.78", categories=["软件"])
    buy(mine, on=timezone.localdate() - days(40), total="100.00", categories=["软件"])
    contact(mine, at=timezone.now() - days(2), type="call")
    client.force_login(org.east_rep)

    page = client.get(reverse("customers:detail", args=[mine.pk])).content.decode()

    assert 'id="customer-profile"' in page
    profile = CustomerProfile.objects.get(customer=mine)  # computed on first view
    assert profile.purchase_count == 2
    since = selectors.profile_reasons(profile=profile)["days_since_purchase"]
    assert 12 < since < 13
    assert f"距上次购买 {floatformat(since, 1)} 天" in page  # the reason behind R, to a tenth of a day
    assert "2 次购买" in page
    assert "¥3,556.78" in page
    assert "电话沟通" in page
    assert "规则" in page


def test_360_card_shows_the_model_and_its_auc(org, client):
    mine = CustomerFactory(owner=org.east_rep)
    AnalyticsSettings.load()
    model = {"features": [], "mean": [0.0] * 8, "scale": [1.0] * 8, "coef": [0.0] * 8, "intercept": 0.0}
    AnalyticsSettings.objects.filter(pk=1).update(churn_model=model, churn_model_auc=0.912)
    client.force_login(org.east_rep)
    page = client.get(reverse("customers:detail", args=[mine.pk])).content.decode()
    assert "AUC 0.912" in page


def test_customer_list_filters_and_sorts_by_profile(org, client):
    risky = CustomerFactory(owner=org.east_rep, name="高风险客户")
    calm = CustomerFactory(owner=org.east_rep, name="平稳客户")
    contact(calm, at=timezone.now() - days(1))
    type(risky).objects.filter(pk=risky.pk).update(created_at=timezone.now() - days(400))
    services.profiles_recompute(customer_ids=[risky.pk, calm.pk])
    client.force_login(org.east_rep)
    url = reverse("customers:list")

    filtered = client.get(url, {"lifecycle": "lost", "churn_risk_gt": "0.7"}).content.decode()
    assert "高风险客户" in filtered and "平稳客户" not in filtered

    by_risk = client.get(url, {"sort": "-churn_risk"}).content.decode()
    assert by_risk.index("高风险客户") < by_risk.index("平稳客户")
    by_risk_asc = client.get(url, {"sort": "churn_risk"}).content.decode()
    assert by_risk_asc.index("平稳客户") < by_risk_asc.index("高风险客户")


def test_customer_list_profile_column_adds_no_query_per_row(org, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(org.east_rep)

    def queries_for(rows):
        CustomerProfile.objects.all().delete()
        made = [CustomerFactory(owner=org.east_rep) for _ in range(rows)]
        services.profiles_recompute(customer_ids=[c.pk for c in made])
        with CaptureQueriesContext(connection) as context:
            assert client.get(reverse("customers:list"), {"sort": "-churn_risk"}).status_code == 200
        return len(context.captured_queries)

    assert queries_for(3) == queries_for(20)


# --- settings ----------------------------------------------------------------------------------------


def _limited_user(org):
    role = RoleFactory(
        name="no-analytics-settings",
        data_scope="all",
        permissions=list(Permission.objects.exclude(codename="change_analyticssettings")),
    )
    return UserFactory(username="limited", department=org.departments["east"], roles=[role])


def test_settings_page_needs_its_permission(org, client):
    client.force_login(_limited_user(org))
    assert client.get(reverse("analytics:settings")).status_code == 403
    assert client.post(reverse("analytics:recompute")).status_code == 403
    assert client.get(reverse("analytics:progress")).status_code == 403


def test_settings_page_saves_thresholds_and_rules(org, client):
    client.force_login(org.admin)
    page = client.get(reverse("analytics:settings"))
    assert page.status_code == 200
    assert "高价值" in page.content.decode()

    rules_json = json.dumps([{"tag": "大客户", "field": "purchase_total", "op": ">=", "value": 100000}])
    response = client.post(
        reverse("analytics:settings"),
        {
            "recency_days_step": 45,
            "frequency_step": 3,
            "monetary_step": "5000.00",
            "scoring_mode": "quantile",
            "clv_horizon_years": 5,
            "clv_discount_rate": "0.08",
            "churn_model_min_labelled": 500,
            "tag_rules": rules_json,
        },
    )
    assert response.status_code == 302
    settings = AnalyticsSettings.load()
    assert (settings.recency_days_step, settings.frequency_step, settings.scoring_mode) == (45, 3, "quantile")
    assert settings.tag_rules == [{"tag": "大客户", "field": "purchase_total", "op": ">=", "value": 100000.0}]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tag_rules", "not json", "不是有效的 JSON"),
        ("tag_rules", '[{"tag": "x", "field": "name", "op": ">", "value": 1}]', "不可用"),
        ("recency_days_step", "0", ""),
        ("clv_discount_rate", "1.5", ""),
    ],
)
def test_bad_settings_are_shown_and_nothing_is_saved(org, client, field, value, message):
    client.force_login(org.admin)
    data = {
        "recency_days_step": 30,
        "frequency_step": 2,
        "monetary_step": "1000.00",
        "scoring_mode": "threshold",
        "clv_horizon_years": 3,
        "clv_discount_rate": "0.10",
        "churn_model_min_labelled": 1000,
        "tag_rules": "[]",
        field: value,
    }
    response = client.post(reverse("analytics:settings"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    settings = AnalyticsSettings.load()
    assert settings.recency_days_step == 30
    assert len(settings.tag_rules) == 3


def test_recompute_now_queues_the_task_and_the_progress_bar_follows_it(
    org, client, broker, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    for _ in range(3):
        CustomerFactory(owner=org.east_rep)
    client.force_login(org.admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("analytics:recompute"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in response.content.decode()  # polling while queued
    queued = _drain()
    assert [(m["task"], m["kwargs"]) for m in queued] == [
        ("analytics.tasks.profiles_recompute_all_task", {"report": True})
    ]

    # A second press while it is queued does not queue another.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("analytics:recompute"))
    assert _drain() == []

    # Half-way (as the task reports it), then done.
    cache.set(PROGRESS_KEY, {"state": "running", "done": 50, "total": 200}, 60)
    partial = client.get(reverse("analytics:progress")).content.decode()
    assert 'aria-valuenow="25"' in partial and "50 / 200" in partial

    profiles_recompute_all_task.apply(kwargs=queued[0]["kwargs"]).get()
    partial = client.get(reverse("analytics:progress")).content.decode()
    assert "every 1s" not in partial
    assert "计算完成：3 位客户" in partial
    assert CustomerProfile.objects.count() == 3
    assert AnalyticsSettings.load().last_bulk_count == 3
