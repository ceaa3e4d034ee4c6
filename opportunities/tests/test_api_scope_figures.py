"""Scope of the routes the generic registry cannot walk (crm/tests/test_api_scope.py): the board,
its column pages, the funnel, the forecast and move — for every user of the org fixture, a
figure never counts a deal outside that user's scope."""

from decimal import Decimal

import pytest
from django.urls import reverse

from crm.tests.test_api_scope import EXPECTED, OPPORTUNITY, _records
from opportunities.models import Opportunity
from opportunities.tests.factories import stage

USERS = sorted(set(EXPECTED) - {"inactive"})


@pytest.fixture
def records(org):
    """One deal per user (plus "moved" and "pool") in 报价, with amounts 1, 2, 4, 8, … so every sum
    names exactly the deals it counted."""
    made = _records(org, OPPORTUNITY)
    for power, record in enumerate(sorted(made.values(), key=lambda r: r.pk)):
        Opportunity.objects.filter(pk=record.pk).update(amount=Decimal(2**power), expected_close_date="2026-05-20")
    return {key: Opportunity.objects.get(pk=record.pk) for key, record in made.items()}


def expected_sum(records, username):
    return sum((records[key].amount for key in EXPECTED[username]), Decimal(0))


@pytest.mark.parametrize("username", USERS)
def test_board_and_column_pages_count_only_what_the_user_sees(org, client_for, records, username):
    client = client_for(org.users[username])
    column = next(
        c for c in client.get(reverse("api:opportunity-board")).json()["columns"] if c["stage"]["code"] == "proposal"
    )
    assert column["count"] == len(EXPECTED[username])
    assert Decimal(column["amount"]) == expected_sum(records, username)
    page = client.get(reverse("api:opportunity-board"), {"stage": stage("proposal").pk, "page_size": 100}).json()
    assert {card["id"] for card in page["cards"]} == {records[key].pk for key in EXPECTED[username]}


@pytest.mark.parametrize("username", USERS)
def test_funnel_and_forecast_count_only_what_the_user_sees(org, client_for, records, username):
    client = client_for(org.users[username])
    funnel = client.get(reverse("api:report-funnel")).json()
    proposal = next(row for row in funnel["stages"] if row["code"] == "proposal")
    assert proposal["count"] == len(EXPECTED[username])
    assert Decimal(proposal["amount"]) == expected_sum(records, username)
    forecast = client.get(reverse("api:report-forecast")).json()
    assert forecast["count"] == len(EXPECTED[username])
    assert Decimal(forecast["amount"]) == expected_sum(records, username)


@pytest.mark.parametrize("username", USERS)
def test_move_reaches_only_deals_in_scope(org, client_for, records, username):
    client = client_for(org.users[username])
    for key, record in records.items():
        response = client.post(
            reverse("api:opportunity-move", args=[record.pk]), {"stage": stage("lead").pk, "version": 1}, format="json"
        )
        if key in EXPECTED[username]:
            assert response.status_code == 200, (key, response.content)
        else:
            assert response.status_code == 404, (key, response.status_code)
    moved = set(Opportunity.objects.filter(stage__code="lead").values_list("pk", flat=True))
    assert moved == {records[key].pk for key in EXPECTED[username]}
