from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from activities.models import FollowUp, FollowUpAttachment, Task
from activities.tests.factories import FollowUpFactory, TaskFactory
from customers.tests.factories import ContactFactory, CustomerFactory, make_customer
from notifications.reminders import day_bounds

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FOLLOW_UPS = reverse("api:followup-list")
TASKS = reverse("api:task-list")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="甲公司")


def test_log_a_follow_up_with_the_issue_field_names(org, client_for, customer):
    contact = ContactFactory(customer=customer)
    next_time = timezone.now() + timedelta(days=2)
    response = client_for(org.east_rep).post(
        FOLLOW_UPS,
        {
            "customer": customer.pk,
            "contact": contact.pk,
            "type": "visit",
            "content": "拜访采购经理",
            "next_follow_up_at": next_time.isoformat(),
            "latitude": 31.2304,
            "longitude": 121.4737,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == [
        "id", "customer", "contact", "type", "content", "occurred_at", "next_follow_up_at", "latitude", "longitude",
        "attachments", "created_by",
    ]  # fmt: skip
    assert (body["customer"], body["contact"], body["type"], body["created_by"]) == (
        customer.pk, contact.pk, "visit", org.east_rep.pk,
    )  # fmt: skip
    assert (body["latitude"], body["longitude"]) == (31.2304, 121.4737)
    customer.refresh_from_db()
    assert customer.last_follow_up_content == "拜访采购经理"
    assert customer.next_follow_up_at == next_time


def test_bad_follow_up_input_is_a_clear_error(org, client_for, customer):
    client = client_for(org.east_rep)
    past = client.post(
        FOLLOW_UPS,
        {"customer": customer.pk, "next_follow_up_at": (timezone.now() - timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert past.status_code == 400
    assert past.json()["error"]["fields"]["next_follow_up_at"] == ["下次跟进时间必须晚于现在。"]
    assert client.post(FOLLOW_UPS, {"customer": customer.pk, "type": "fax"}, format="json").status_code == 400
    assert client.post(FOLLOW_UPS, {"customer": "x"}, format="json").status_code == 400
    assert not FollowUp.objects.exists()


def test_a_follow_up_on_a_customer_outside_scope_is_like_a_missing_one(org, client_for):
    theirs = CustomerFactory(owner=org.north_other)
    client = client_for(org.east_rep)
    hidden = client.post(FOLLOW_UPS, {"customer": theirs.pk}, format="json")
    missing = client.post(FOLLOW_UPS, {"customer": theirs.pk + 10_000}, format="json")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["error"]["fields"]["customer"] == missing.json()["error"]["fields"]["customer"]
    contact = ContactFactory(customer=theirs)
    mine = CustomerFactory(owner=org.east_rep)
    response = client.post(FOLLOW_UPS, {"customer": mine.pk, "contact": contact.pk}, format="json")
    assert response.status_code == 400 and "contact" in response.json()["error"]["fields"]
    assert not FollowUp.objects.exists()


def test_attachments_upload_and_download_within_scope(org, client_for, customer, media):
    client = client_for(org.east_rep)
    response = client.post(
        FOLLOW_UPS,
        {
            "customer": customer.pk,
            "type": "visit",
            "content": "现场照片",
            "attachments": [SimpleUploadedFile("现场.png", PNG), SimpleUploadedFile("报价.pdf", b"%PDF-1.4 x")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [(a["name"], a["content_type"]) for a in attachments] == [
        ("现场.png", "image/png"),
        ("报价.pdf", "application/pdf"),
    ]
    image = client.get(attachments[0]["url"])
    assert image.status_code == 200 and b"".join(image.streaming_content) == PNG
    assert image["Content-Type"] == "image/png" and image["X-Content-Type-Options"] == "nosniff"
    pdf = client.get(attachments[1]["url"])
    assert pdf["Content-Disposition"].startswith("attachment")

    outsider = client_for(org.north_other)
    assert outsider.get(attachments[0]["url"]).status_code == 404
    # an attachment through another follow-up's id
    other = FollowUpFactory(customer=customer)
    attachment_id = attachments[0]["id"]
    wrong = reverse("api:followup-attachment", args=[other.pk, attachment_id])
    assert client.get(wrong).status_code == 404

    refused = client.post(
        FOLLOW_UPS,
        {"customer": customer.pk, "attachments": [SimpleUploadedFile("x.html", b"<script>")]},
        format="multipart",
    )
    assert refused.status_code == 400
    assert "不支持" in refused.json()["error"]["fields"]["attachments"][0]
    assert FollowUpAttachment.objects.count() == 2


def test_follow_up_list_filters_and_query_budget(org, client_for, customer, django_assert_num_queries, media):
    contact = ContactFactory(customer=customer)
    for n in range(25):
        follow_up = FollowUpFactory(customer=customer, contact=contact, type="call" if n % 2 else "visit")
        FollowUpAttachment.objects.create(follow_up=follow_up, file=f"f{n}.png", name="a.png", size=1, content_type="x")
    FollowUpFactory(customer=CustomerFactory(owner=org.north_other))
    client = client_for(org.east_rep)
    client.get(FOLLOW_UPS)  # warm the per-process caches (content types, permissions)
    # user with its department, its permissions (one query), roles, team-member ids; count, page,
    # attachments — the same for 1 row or 50
    with django_assert_num_queries(7):
        response = client.get(FOLLOW_UPS, {"page_size": 50})
    assert response.json()["count"] == 25
    assert len(response.json()["results"]) == 25
    visits = client.get(FOLLOW_UPS, {"type": "visit", "customer": customer.pk}).json()
    assert visits["count"] == 13


def test_task_api_create_filters_and_actions(org, client_for, customer):
    client = client_for(org.east_rep)
    due = timezone.now() + timedelta(days=1)
    created = client.post(
        TASKS,
        {"title": "发报价单", "due_at": due.isoformat(), "customer": customer.pk, "priority": "high"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert list(body) == ["id", "title", "due_at", "remind_at", "assignee", "customer", "priority", "status"]
    assert (body["assignee"], body["status"], body["priority"]) == (org.east_rep.pk, "open", "high")

    url = reverse("api:task-detail", args=[body["id"]])
    patched = client.patch(url, {"title": "发正式报价单", "remind_at": timezone.now().isoformat()}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "发正式报价单"
    bad = client.patch(url, {"remind_at": (due + timedelta(hours=1)).isoformat()}, format="json")
    assert bad.status_code == 400 and "remind_at" in bad.json()["error"]["fields"]

    done = client.post(reverse("api:task-complete", args=[body["id"]]))
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert client.post(reverse("api:task-cancel", args=[body["id"]])).status_code == 409
    assert client.post(reverse("api:task-reopen", args=[body["id"]])).json()["status"] == "open"


def test_mine_overdue_and_today_in_shanghai(org, client_for):
    now = timezone.now()
    start, end = day_bounds(now)
    rep = org.east_rep
    today_late = TaskFactory(assignee=rep, due_at=end - timedelta(minutes=1))
    tomorrow = TaskFactory(assignee=rep, due_at=end + timedelta(minutes=1))
    overdue = TaskFactory(assignee=rep, due_at=now - timedelta(days=2))
    TaskFactory(assignee=rep, due_at=now - timedelta(days=2), status="done")  # done: not overdue
    delegated = TaskFactory(assignee=org.east_intern, created_by=rep, due_at=start + timedelta(minutes=1))
    client = client_for(rep)

    def ids(**params):
        return {row["id"] for row in client.get(TASKS, params).json()["results"]}

    assert ids(today="true") == {today_late.pk, delegated.pk}
    assert ids(overdue="true") == {overdue.pk} | ({delegated.pk} if delegated.due_at < timezone.now() else set())
    assert ids(mine="true", today="true") == {today_late.pk}
    assert tomorrow.pk in ids(mine="true") and delegated.pk not in ids(mine="true")


def test_task_actions_outside_scope_are_404_and_read_only_viewers_403(org, client_for):
    from customers import services as customer_services

    customer = make_customer(org.east_rep, name="乙公司")
    task = TaskFactory(assignee=org.east_rep, customer=customer)
    for action in ("task-complete", "task-cancel", "task-reopen"):
        response = client_for(org.north_other).post(reverse(f"api:{action}", args=[task.pk]))
        assert response.status_code == 404
    assert (
        client_for(org.north_other)
        .patch(reverse("api:task-detail", args=[task.pk]), {"title": "x"}, format="json")
        .status_code
        == 404
    )
    # a read-only team member sees the customer's tasks but cannot change them
    customer_services.customer_team_member_set(
        user=org.east_rep, customer=customer, member=org.south_rep, access="read"
    )
    client = client_for(org.south_rep)
    assert client.get(reverse("api:task-detail", args=[task.pk])).status_code == 200
    assert client.post(reverse("api:task-complete", args=[task.pk])).status_code == 403
    task.refresh_from_db()
    assert task.status == "open"


def test_task_list_query_budget(org, client_for, django_assert_num_queries):
    customer = CustomerFactory(owner=org.east_rep)
    for n in range(25):
        TaskFactory(assignee=org.east_rep, customer=customer if n % 2 else None)
    client = client_for(org.east_rep)
    client.get(TASKS)
    # user with its department, its permissions (one query), roles, team-member ids; count, page
    with django_assert_num_queries(6):
        response = client.get(TASKS, {"page_size": 50})
    assert response.json()["count"] == 25


def test_tasks_assigned_to_someone_else_show_for_them_too(org, client_for):
    client = client_for(org.east_rep)
    due = (timezone.now() + timedelta(hours=3)).isoformat()
    response = client.post(TASKS, {"title": "请回访", "due_at": due, "assignee": org.north_other.pk}, format="json")
    assert response.status_code == 201
    task_id = response.json()["id"]
    assert client_for(org.north_other).get(reverse("api:task-detail", args=[task_id])).status_code == 200
    assert Task.objects.get(pk=task_id).assignee == org.north_other
