"""The workbench page and API: every tile's number equals the rows of the list it links to (opened
as the same user), the JSON shape, the page for a rep and a manager, and the page's query budget."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from workbench import selectors
from workbench.tests.conftest import make_due_customers, make_open_deal, make_tasks, moments


def logged_in(client, user):
    client.force_login(user)
    return client


def _counted(context):
    """A counted list page (customers, deals, contracts, payments): its total, which must agree
    with the rows it shows (every list here is shorter than a page)."""
    assert context["count"] == len(context["rows"]) and not context["capped"]
    return context["count"]


ROWS = {
    reverse("customers:list"): _counted,
    reverse("opportunities:list"): _counted,
    reverse("contracts:list"): _counted,
    reverse("payments:list"): _counted,
    # the 待办 page: its "overdue" and "today" sections
    reverse("activities:todo"): lambda context: sum(
        len(tasks) for key, _label, tasks in context["sections"] if key != "upcoming"
    ),
    reverse("pool:returning"): lambda context: len(context["rows"]),
    reverse("approvals:inbox"): lambda context: len(context["tasks"]),
    reverse("notifications:inbox"): lambda context: len(context["notifications"]),
}


def list_rows(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return ROWS[urlsplit(url).path](response.context)


@pytest.mark.parametrize("username", ["east_rep", "east_lead", "east_manager", "s1_director", "north_rep", "ceo"])
def test_every_tile_counts_the_rows_of_the_list_it_links_to(org, world, client, username):
    user = org.users[username]
    client = logged_in(client, user)
    result = selectors.workbench_figures(user=user)
    tiles = [("mine", key, tile) for key, tile in result["mine"].items()]
    tiles += [("team", key, tile) for key, tile in (result["team"] or {}).items() if key != "funnel"]
    assert len(tiles) == (8 if result["team"] is None else 12)

    for part, key, tile in tiles:
        assert list_rows(client, tile["url"]) == tile["count"], (part, key, tile["url"])
    # the world gives every rep's tile something to count: a tile equal to an empty list proves little
    if username == "east_rep":
        assert all(tile["count"] > 0 for _part, _key, tile in tiles)


def test_the_funnel_matches_the_funnel_page_it_links_to(org, world, client):
    funnel = selectors.workbench_figures(user=org.s1_director)["team"]["funnel"]
    page = logged_in(client, org.s1_director).get(funnel["url"]).context["funnel"]

    assert [(row["name"], row["count"], row["amount"]) for row in funnel["stages"]] == [
        (row["stage"].name, row["count"], row["amount"]) for row in page["stages"]
    ]
    # reached the first stage: the 5 open deals in 销售一部 and the won one, all created this year
    assert funnel["stages"][0]["count"] == 6
    assert (funnel["won"], funnel["lost"]) == (page["won"], page["lost"]) == (1, 1)


def test_api_shape_for_a_rep(org, world, client_for):
    response = client_for(org.east_rep).get(reverse("api:workbench"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"today", "month", "scope", "is_manager", "mine", "team"}
    assert (body["scope"], body["is_manager"], body["team"]) == ("self", False, None)
    assert set(body["mine"]) == {
        "tasks",
        "follow_ups_due",
        "pool_returning",
        "approvals",
        "pipeline",
        "contracts_month",
        "payments_month",
        "notifications",
    }
    assert body["mine"]["tasks"] == {"count": 3, "overdue": 2, "today": 1, "url": "/tasks/"}
    # money as strings to the fen
    assert body["mine"]["pipeline"] == {
        "count": 2,
        "amount": "3000.50",
        "weighted_amount": "1200.10",
        "url": f"/opportunities/?kind=open&owner={org.east_rep.pk}",
    }
    assert body["mine"]["payments_month"]["amount"] == "1234.56"
    assert body["mine"]["follow_ups_due"]["capped"] is False
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["today"]) and re.fullmatch(r"\d{4}-\d{2}", body["month"])


def test_api_shape_for_a_manager(org, world, client_for):
    body = client_for(org.east_manager).get(reverse("api:workbench")).json()

    assert (body["scope"], body["is_manager"]) == ("department", True)
    assert set(body["team"]) == {"follow_ups_due", "pipeline", "contracts_month", "payments_month", "funnel"}
    assert body["team"]["contracts_month"]["amount"] == "18000.50"
    funnel = body["team"]["funnel"]
    assert set(funnel) == {"group", "stages", "won", "lost", "win_rate", "url"}
    assert set(funnel["stages"][0]) == {"name", "count", "amount", "weighted_amount", "conversion_rate"}
    assert funnel["win_rate"] == "0.5000"  # one won, one lost


def test_api_needs_a_login(api_client):
    assert api_client.get(reverse("api:workbench")).status_code == 401


def test_page_for_a_rep_shows_and_links_every_tile(org, world, client):
    response = logged_in(client, org.east_rep).get(reverse("workbench"))

    assert response.status_code == 200
    html = response.content.decode()
    for key, tile in response.context["mine"].items():
        element = f'id="tile-{key.replace("_", "-")}" data-count="{tile["count"]}"'
        assert element in html, key
        assert f'href="{tile["url"].replace("&", "&amp;")}"' in html, key
    assert "¥3,000.50" in html and "¥1,200.10" in html  # pipeline amount and weighted, thousands separators
    assert 'id="workbench-team"' not in html and "workbench-funnel-chart" not in html


def test_page_for_a_manager_shows_the_team_and_the_funnel(org, world, client):
    response = logged_in(client, org.s1_director).get(reverse("workbench"))

    html = response.content.decode()
    assert 'id="workbench-team"' in html and 'id="tile-team-pipeline" data-count="5"' in html
    assert 'id="workbench-funnel-chart"' in html and 'id="workbench-funnel-data"' in html
    assert "¥8,300.50" in html


def test_page_for_someone_without_any_role_renders(org, client):
    response = logged_in(client, org.norole).get(reverse("workbench"))
    assert response.status_code == 200 and response.context["team"] is None


@pytest.mark.parametrize("username", ["east_rep", "s1_director"])
def test_page_query_count_does_not_grow_with_the_data(org, world, client, username, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(client, org.users[username])

    def count():
        with CaptureQueriesContext(connection) as context:
            assert client.get(reverse("workbench")).status_code == 200
        return len(context)

    with django_assert_max_num_queries(70):
        small = count()
    m = moments()
    for user in (org.east_rep, org.east_lead, org.south_rep):
        make_tasks(user, m, overdue=20, today=5)
        make_due_customers(user, m, 20)
        for _ in range(20):
            make_open_deal(user, Decimal("10.00"), 10)
    assert count() == small
