from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import FollowUp, FollowUpAttachment, Task
from activities.tests.factories import FollowUpFactory, TaskFactory
from customers.tests.factories import make_customer
from notifications.reminders import day_bounds


def url(name, *args):
    return reverse(f"activities:{name}", args=args)


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="甲公司")


# Pages that take a record id; out-of-scope ones are 404 like missing ones.
PK_PAGES = [("follow_up_create", "post"), ("attachment", "get"), ("task_complete", "post")]


def test_every_page_with_a_record_id_is_in_the_scope_tests():
    from activities.urls import urlpatterns

    with_id = {pattern.name for pattern in urlpatterns if "<int:" in str(pattern.pattern)}
    assert with_id == {name for name, _method in PK_PAGES}


@pytest.mark.parametrize(("name", "method"), PK_PAGES)
def test_pages_of_out_of_scope_records_are_404(org, client, customer, settings, tmp_path, name, method):
    settings.MEDIA_ROOT = tmp_path
    follow_up = FollowUpFactory(customer=customer)
    attachment = FollowUpAttachment.objects.create(
        follow_up=follow_up, file="x.txt", name="x.txt", size=1, content_type="text/plain"
    )
    task = TaskFactory(assignee=org.east_rep, customer=customer)
    pk = {"follow_up_create": customer.pk, "attachment": attachment.pk, "task_complete": task.pk}[name]
    outsider = logged_in(client, org.north_other)
    assert getattr(outsider, method)(url(name, pk)).status_code == 404
    assert getattr(outsider, method)(url(name, 999999)).status_code == 404
    task.refresh_from_db()
    assert task.status == "open" and FollowUp.objects.count() == 1


def test_quick_follow_up_from_the_360_page(org, client, customer):
    client = logged_in(client, org.east_rep)
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    assert 'id="quick-follow-up"' in page.content.decode()
    next_time = timezone.localtime() + timedelta(days=1)
    response = client.post(
        url("follow_up_create", customer.pk),
        {
            "type": "visit",
            "content": "上门",
            "next_follow_up_at": next_time.strftime("%Y-%m-%dT%H:%M"),
            "create_task": "on",
        },
    )
    assert response.status_code == 302 and response.url.endswith("#timeline")
    follow_up = FollowUp.objects.get()
    assert (follow_up.type, follow_up.content, follow_up.created_by) == ("visit", "上门", org.east_rep)
    assert Task.objects.get().due_at == next_time.replace(second=0, microsecond=0)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-kind="follow_up"' in page and 'data-kind="task"' in page


def test_two_taps_log_a_call(org, client, customer):
    """Type and save only: the form's defaults make a valid follow-up."""
    response = logged_in(client, org.east_rep).post(url("follow_up_create", customer.pk), {"type": "call"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.last_follow_up_at is not None


def test_a_bad_quick_follow_up_says_why_and_writes_nothing(org, client, customer):
    client = logged_in(client, org.east_rep)
    past = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url("follow_up_create", customer.pk), {"type": "call", "next_follow_up_at": past}, follow=True
    )
    assert "下次跟进时间必须晚于现在" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_read_only_team_members_get_no_form_and_cannot_post(org, client, customer):
    from customers import services as customer_services

    customer_services.customer_team_member_set(
        user=org.east_rep, customer=customer, member=org.south_rep, access="read"
    )
    client = logged_in(client, org.south_rep)
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    assert page.status_code == 200 and 'id="quick-follow-up"' not in page.content.decode()
    assert client.post(url("follow_up_create", customer.pk), {"type": "call"}).status_code == 403


def test_todo_page_sections_and_completing_a_task(org, client):
    now = timezone.now()
    _start, end = day_bounds(now)
    overdue = TaskFactory(assignee=org.east_rep, title="逾期的", due_at=now - timedelta(days=1))
    today = TaskFactory(
        assignee=org.east_rep, title="今天的", due_at=min(now + timedelta(minutes=5), end - timedelta(seconds=1))
    )
    later = TaskFactory(assignee=org.east_rep, title="下周的", due_at=now + timedelta(days=7))
    TaskFactory(assignee=org.south_rep, title="别人的", due_at=now + timedelta(minutes=5))
    client = logged_in(client, org.east_rep)
    page = client.get(url("todo")).content.decode()

    def section(key):
        start = page.index(f'id="tasks-{key}"')
        return page[start : page.index("</section>", start)]

    assert "逾期的" in section("overdue")
    assert "今天的" in section("today") or today.due_at >= end
    assert "下周的" in section("upcoming")
    assert "别人的" not in page
    assert client.post(url("task_complete", overdue.pk)).status_code == 302
    overdue.refresh_from_db()
    assert overdue.status == "done"
    assert later.title in client.get(url("todo")).content.decode()


def test_todo_page_creates_a_task(org, client):
    client = logged_in(client, org.east_rep)
    due = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(url("todo"), {"title": "写方案", "due_at": due, "priority": "high"}).status_code == 302
    assert Task.objects.get().assignee == org.east_rep
    bad = client.post(url("todo"), {"title": "", "due_at": due, "priority": "high"})
    assert bad.status_code == 400


def test_calendar_week_and_month_show_my_tasks_and_follow_ups(org, client, customer):
    now = timezone.now()
    TaskFactory(assignee=org.east_rep, title="周会", due_at=now)
    FollowUpFactory(customer=customer, created_by=org.east_rep, occurred_at=now, type="visit")
    TaskFactory(assignee=org.south_rep, title="别人的", due_at=now)
    client = logged_in(client, org.east_rep)
    for view in ("week", "month"):
        page = client.get(url("calendar"), {"view": view}).content.decode()
        assert "周会" in page and "甲公司" in page and "别人的" not in page
        assert f'data-date="{timezone.localdate():%Y-%m-%d}"' in page
    assert client.get(url("calendar"), {"view": "month", "date": "garbage"}).status_code == 200


def test_nav_shows_the_unread_badge_and_the_inbox_opens_a_notification(org, client):
    from notifications.models import Notification
    from notifications.services import notification_send

    [pk] = notification_send(
        recipient_ids=[org.east_rep.pk], kind="t", target_id=1, occasion="o", title="请回访", link="/tasks/"
    )
    notification_send(recipient_ids=[org.south_rep.pk], kind="t", target_id=1, occasion="o", title="别人的")
    client = logged_in(client, org.east_rep)
    page = client.get(url("todo")).content.decode()
    assert 'id="unread-badge">1<' in page
    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert "请回访" in inbox and "别人的" not in inbox
    theirs = Notification.objects.get(recipient=org.south_rep)
    assert client.post(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    opened = client.post(reverse("notifications:open", args=[pk]))
    assert opened.status_code == 302 and opened.url == "/tasks/"
    assert 'id="unread-badge"' not in client.get(url("todo")).content.decode()
