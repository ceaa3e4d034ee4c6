"""GET /api/v1/customers/{id}/profile/: exactly the issue's fields, scoped like the customer (the
generic scope matrix is in crm/tests/test_api_scope.py; these try to break it directly)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from analytics import services
from analytics.models import AnalyticsSettings
from analytics.tests.helpers import buy, contact, days
from customers.tests.factories import CustomerFactory
from staff.tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

FIELDS = {
    "recency", "frequency", "monetary", "lifecycle", "predicted_value", "clv", "churn_risk", "churn_source",
    "churn_model_auc", "preferences", "recommended_actions", "last_purchase_at", "purchase_count", "purchase_total",
    "last_contact_at", "computed_at",
}  # fmt: skip


def _url(customer):
    return reverse("api:customer-profile", args=[customer.pk])


def test_profile_has_exactly_the_issues_fields(org, client_for):
    from django.utils import timezone

    mine = CustomerFactory(owner=org.east_rep)
    buy(mine, on=timezone.localdate() - days(3), total="1200.50", categories=["软件"])
    contact(mine, at=timezone.now() - days(1), type="email")

    response = client_for(org.east_rep).get(_url(mine))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert body["purchase_count"] == 1
    assert Decimal(body["purchase_total"]) == Decimal("1200.50")
    assert (body["recency"], body["frequency"], body["monetary"]) == (5, 1, 2)
    assert body["lifecycle"] == "new"
    assert body["preferences"] == ["软件", "邮件沟通"]
    assert (body["churn_source"], body["churn_model_auc"]) == ("rule", None)
    assert body["computed_at"]


def test_the_models_auc_is_shown_beside_a_model_score(org, client_for):
    mine = CustomerFactory(owner=org.east_rep)
    AnalyticsSettings.load()
    model = {"features": [], "mean": [0.0] * 8, "scale": [1.0] * 8, "coef": [0.0] * 8, "intercept": 0.0}
    AnalyticsSettings.objects.filter(pk=1).update(churn_model=model, churn_model_auc=0.87)
    services.profiles_recompute(customer_ids=[mine.pk])

    body = client_for(org.east_rep).get(_url(mine)).json()

    assert (body["churn_source"], body["churn_model_auc"], body["churn_risk"]) == ("model", 0.87, "0.5000")


def test_out_of_scope_and_missing_answer_the_same_404(org, client_for):
    theirs = CustomerFactory(owner=org.north_other)
    services.profiles_recompute(customer_ids=[theirs.pk])
    client = client_for(org.east_rep)

    hidden = client.get(_url(theirs))
    missing = client.get(reverse("api:customer-profile", args=[theirs.pk + 10_000]))

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert hidden.json()["error"]["code"] == "not_found"


def test_pool_and_recycle_bin_customers_are_404(org, client_for):
    from django.utils import timezone

    pooled = CustomerFactory(owner=None)
    deleted = CustomerFactory(owner=org.east_rep)
    services.profiles_recompute(customer_ids=[pooled.pk, deleted.pk])
    type(deleted).objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    client = client_for(org.ceo)
    assert client.get(_url(pooled)).status_code == 404
    assert client.get(_url(deleted)).status_code == 404


def test_a_manager_sees_a_subordinates_customer_profile(org, client_for):
    theirs = CustomerFactory(owner=org.east_rep)
    assert client_for(org.east_lead).get(_url(theirs)).status_code == 200
    assert client_for(org.east_intern).get(_url(theirs)).status_code == 404


def test_profile_needs_the_customer_view_permission(org, client_for):
    role = RoleFactory(
        name="no-customers", data_scope="all", permissions=list(Permission.objects.exclude(codename="view_customer"))
    )
    user = UserFactory(username="blind", department=org.departments["east"], roles=[role])
    mine = CustomerFactory(owner=user)
    assert client_for(user).get(_url(mine)).status_code == 403


def test_profile_is_read_only(org, client_for):
    mine = CustomerFactory(owner=org.east_rep)
    client = client_for(org.east_rep)
    assert client.post(_url(mine), {"lifecycle": "loyal"}, format="json").status_code == 405
    assert client.patch(_url(mine), {"lifecycle": "loyal"}, format="json").status_code == 405


def test_customer_list_api_filters_by_profile(org, client_for):
    risky = CustomerFactory(owner=org.east_rep)
    fresh = CustomerFactory(owner=org.east_rep)
    from django.utils import timezone

    contact(fresh, at=timezone.now() - days(1))
    type(risky).objects.filter(pk=risky.pk).update(created_at=timezone.now() - days(400))
    services.profiles_recompute(customer_ids=[risky.pk, fresh.pk])
    client = client_for(org.east_rep)

    def ids(params):
        response = client.get(reverse("api:customer-list"), params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids({"churn_risk_gt": "0.7"}) == {risky.pk}
    assert ids({"lifecycle": ["lost"]}) == {risky.pk}
    assert ids({"lifecycle": ["prospect", "lost"]}) == {risky.pk, fresh.pk}
    assert ids({"profile_tag": "流失风险"}) == {risky.pk}
    assert client.get(reverse("api:customer-list"), {"churn_risk_gt": "2"}).status_code == 400
    assert client.get(reverse("api:customer-list"), {"lifecycle": "vip"}).status_code == 400
