import pytest
from django.urls import reverse

from notifications import services
from notifications.models import Notification

LIST = reverse("api:notification-list")


def send(user, n=1, **kwargs):
    ids = []
    for index in range(n):
        ids += services.notification_send(
            recipient_ids=[user.pk], kind="test", target_id=index, occasion="o", title=f"通知{index}", **kwargs
        )
    return ids


def test_inbox_lists_only_the_callers_own(org, client_for):
    mine = send(org.east_rep, 3)
    theirs = send(org.east_lead, 2)
    for client_user, expected in ((org.east_rep, mine), (org.east_lead, theirs), (org.admin, [])):
        rows = client_for(client_user).get(LIST).json()["results"]
        assert sorted(row["id"] for row in rows) == sorted(expected)
    row = client_for(org.east_rep).get(LIST).json()["results"][0]
    assert list(row) == ["id", "kind", "title", "body", "link", "read_at", "created_at"]


def test_someone_elses_notification_is_404_for_read_and_detail(org, client_for):
    [theirs] = send(org.east_lead)
    client = client_for(org.east_rep)
    for response in (
        client.get(reverse("api:notification-detail", args=[theirs])),
        client.post(reverse("api:notification-read", args=[theirs])),
    ):
        assert response.status_code == 404
    assert Notification.objects.get(pk=theirs).read_at is None


def test_unread_count_mark_read_and_mark_all_read(org, client_for):
    ids = send(org.east_rep, 3)
    [other] = send(org.east_lead)
    client = client_for(org.east_rep)
    count = reverse("api:notification-unread-count")
    assert client.get(count).json() == {"unread": 3}

    read = client.post(reverse("api:notification-read", args=[ids[0]]))
    assert read.status_code == 200 and read.json()["read_at"]
    assert client.get(count).json() == {"unread": 2}
    assert {row["id"] for row in client.get(LIST, {"unread": "true"}).json()["results"]} == set(ids[1:])

    assert client.post(reverse("api:notification-read-all")).json() == {"marked": 2}
    assert client.get(count).json() == {"unread": 0}
    assert Notification.objects.get(pk=other).read_at is None  # someone else's stays unread


def test_anonymous_gets_401(api_client):
    assert api_client.get(LIST).status_code == 401
    assert api_client.get(reverse("api:notification-unread-count")).status_code == 401


@pytest.mark.parametrize("rows", [1, 30])
def test_inbox_query_budget(org, client_for, django_assert_num_queries, rows):
    send(org.east_rep, rows)
    client = client_for(org.east_rep)
    client.get(LIST)
    with django_assert_num_queries(2):  # the user, the page
        response = client.get(LIST, {"page_size": 50})
    assert len(response.json()["results"]) == rows
