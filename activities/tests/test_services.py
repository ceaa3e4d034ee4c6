from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from activities import services
from activities.models import FollowUp, FollowUpAttachment, Task, TaskStatus
from activities.tests.factories import FollowUpFactory, TaskFactory
from crm.errors import DomainError
from customers import services as customer_services
from customers.models import Customer
from customers.tests.factories import ContactFactory, CustomerFactory, make_customer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def customer(org):
    return make_customer(org.east_rep, name="甲公司")


def test_a_follow_up_updates_the_customers_last_and_next_follow_up(org, customer):
    now = timezone.now()
    next_time = now + timedelta(days=3)
    follow_up = services.follow_up_create(
        user=org.east_rep, customer=customer, type="visit", content="上门拜访，谈了报价", next_follow_up_at=next_time
    )
    customer.refresh_from_db()
    assert customer.last_follow_up_at == follow_up.occurred_at
    assert customer.last_follow_up_content == "上门拜访，谈了报价"
    assert customer.next_follow_up_at == next_time
    # A queryset update: no history row, no new version (nobody's edit form goes stale).
    assert customer.version == 1
    assert customer.history.count() == 1


def test_an_older_follow_up_logged_later_does_not_move_last_contacted_back(org, customer):
    services.follow_up_create(user=org.east_rep, customer=customer, content="最新")
    services.follow_up_create(
        user=org.east_rep, customer=customer, content="上周的电话", occurred_at=timezone.now() - timedelta(days=7)
    )
    customer.refresh_from_db()
    assert customer.last_follow_up_content == "最新"


def test_a_follow_up_without_a_next_time_clears_a_due_one_and_keeps_a_future_one(org, customer):
    due = timezone.now() - timedelta(hours=1)
    Customer.objects.filter(pk=customer.pk).update(next_follow_up_at=due)
    services.follow_up_create(user=org.east_rep, customer=customer)
    customer.refresh_from_db()
    assert customer.next_follow_up_at is None

    later = timezone.now() + timedelta(days=2)
    Customer.objects.filter(pk=customer.pk).update(next_follow_up_at=later)
    services.follow_up_create(user=org.east_rep, customer=customer)
    customer.refresh_from_db()
    assert customer.next_follow_up_at == later


def test_the_customer_update_is_in_the_follow_ups_transaction(org, customer, media, monkeypatch):
    """A failure after the row, its files and the customer update were written undoes all three."""

    def fail(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "task_create", fail)
    with pytest.raises(RuntimeError):
        services.follow_up_create(
            user=org.east_rep,
            customer=customer,
            content="x",
            next_follow_up_at=timezone.now() + timedelta(days=1),
            create_task=True,
            files=[SimpleUploadedFile("a.png", PNG)],
        )
    customer.refresh_from_db()
    assert (customer.last_follow_up_at, customer.next_follow_up_at, customer.last_follow_up_content) == (None, None, "")
    assert not FollowUp.objects.exists()
    assert not [path for path in media.rglob("*") if path.is_file()]


def test_a_refused_attachment_writes_nothing(org, customer, media):
    with pytest.raises(DomainError):
        services.follow_up_create(
            user=org.east_rep,
            customer=customer,
            files=[SimpleUploadedFile("a.png", PNG), SimpleUploadedFile("evil.exe", b"MZ")],
        )
    assert not FollowUp.objects.exists()
    assert not [path for path in media.rglob("*") if path.is_file()]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"next_follow_up_at": "past"}, "next_follow_up_at"),
        ({"occurred_at": "future"}, "occurred_at"),
        ({"type": "fax"}, "type"),
        ({"content": "长" * 5001}, "content"),
        ({"create_task": True}, "next_follow_up_at"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_written(org, customer, kwargs, field):
    now = timezone.now()
    values = {"past": now - timedelta(minutes=1), "future": now + timedelta(hours=1)}
    kwargs = {key: values.get(value, value) if isinstance(value, str) else value for key, value in kwargs.items()}
    with pytest.raises(DomainError) as error:
        services.follow_up_create(user=org.east_rep, customer=customer, **kwargs)
    assert field in error.value.fields
    assert not FollowUp.objects.exists()


def test_a_contact_of_another_customer_is_refused(org, customer):
    other = ContactFactory(customer=CustomerFactory(owner=org.east_rep))
    with pytest.raises(DomainError) as error:
        services.follow_up_create(user=org.east_rep, customer=customer, contact=other)
    assert "contact" in error.value.fields


def test_a_read_only_viewer_cannot_log_a_follow_up(org, customer):
    customer_services.customer_team_member_set(
        user=org.east_rep, customer=customer, member=org.south_rep, access="read"
    )
    with pytest.raises(DomainError) as error:
        services.follow_up_create(user=org.south_rep, customer=customer)
    assert error.value.status == 403


def test_check_in_on_a_visit_is_stored_and_needs_both_coordinates(org, customer):
    follow_up = services.follow_up_create(
        user=org.east_rep, customer=customer, type="visit", latitude="31.2304", longitude="121.4737"
    )
    assert (follow_up.latitude, follow_up.longitude) == (Decimal("31.230400"), Decimal("121.473700"))
    with pytest.raises(DomainError):
        services.follow_up_create(user=org.east_rep, customer=customer, type="visit", latitude="31.2")
    with pytest.raises(DomainError):
        services.follow_up_create(user=org.east_rep, customer=customer, type="call", latitude=1, longitude=2)
    with pytest.raises(DomainError):
        services.follow_up_create(user=org.east_rep, customer=customer, type="visit", latitude=91, longitude=2)


def test_check_in_switched_off_stores_no_location(org, customer, settings):
    settings.FOLLOW_UP_CHECKIN_ENABLED = False
    follow_up = services.follow_up_create(
        user=org.east_rep, customer=customer, type="visit", latitude="31.2304", longitude="121.4737"
    )
    follow_up.refresh_from_db()
    assert follow_up.latitude is None and follow_up.longitude is None


def test_old_check_in_locations_are_purged(org, customer):
    old = FollowUpFactory(customer=customer, latitude=1, longitude=2, occurred_at=timezone.now() - timedelta(days=91))
    recent = FollowUpFactory(customer=customer, latitude=1, longitude=2)
    assert services.follow_up_purge_check_ins() == {"cleared": 1}
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.latitude is None and old.content
    assert recent.latitude is not None


def test_attachments_are_stored_with_their_name_size_and_type(org, customer, media):
    follow_up = services.follow_up_create(
        user=org.east_rep,
        customer=customer,
        files=[SimpleUploadedFile("现场照片.PNG", PNG), SimpleUploadedFile("报价.pdf", b"%PDF-1.7 ...")],
    )
    rows = list(follow_up.attachments.values_list("name", "size", "content_type"))
    assert rows == [("现场照片.PNG", len(PNG), "image/png"), ("报价.pdf", 12, "application/pdf")]
    stored = FollowUpAttachment.objects.first().file.name
    assert stored.startswith("followups/") and "现场照片" not in stored


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("run.exe", b"MZ\x90\x00"), "不支持"),
        (SimpleUploadedFile("fake.png", b"<html>not a png</html>"), "不符"),
        (SimpleUploadedFile("empty.txt", b""), "空文件"),
    ],
)
def test_attachments_of_a_wrong_type_are_refused(org, customer, media, upload, message):
    with pytest.raises(DomainError) as error:
        services.follow_up_create(user=org.east_rep, customer=customer, files=[upload])
    assert message in error.value.fields["attachments"][0]


def test_attachment_size_and_count_limits(org, customer, media, settings):
    settings.FOLLOW_UP_ATTACHMENT_MAX_MB = 1
    big = SimpleUploadedFile("big.txt", b"x" * (1024 * 1024 + 1))
    with pytest.raises(DomainError) as error:
        services.follow_up_create(user=org.east_rep, customer=customer, files=[big])
    assert "1 MB" in error.value.fields["attachments"][0]
    settings.FOLLOW_UP_ATTACHMENT_MAX_COUNT = 2
    with pytest.raises(DomainError):
        services.follow_up_create(
            user=org.east_rep, customer=customer, files=[SimpleUploadedFile(f"{n}.txt", b"x") for n in range(3)]
        )


def test_create_task_puts_the_next_follow_up_on_the_todo_list(org, customer):
    Customer.objects.filter(pk=customer.pk).update(name="甲公司" + "长" * 196)
    customer.refresh_from_db()
    next_time = timezone.now() + timedelta(days=1)
    services.follow_up_create(
        user=org.east_rep, customer=customer, type="visit", next_follow_up_at=next_time, create_task=True
    )
    task = Task.objects.get()
    assert (task.assignee, task.customer, task.due_at, task.status) == (org.east_rep, customer, next_time, "open")
    assert "甲公司" in task.title


# --- tasks ----------------------------------------------------------------------------------------


def test_task_rules(org):
    due = timezone.now() + timedelta(days=1)
    with pytest.raises(DomainError) as error:
        services.task_create(user=org.east_rep, title=" ", due_at=due)
    assert "title" in error.value.fields
    with pytest.raises(DomainError) as error:
        services.task_create(user=org.east_rep, title="t", due_at=due, remind_at=due + timedelta(minutes=1))
    assert "remind_at" in error.value.fields
    with pytest.raises(DomainError) as error:
        services.task_create(user=org.east_rep, title="t", due_at=due, assignee=org.inactive)
    assert "assignee" in error.value.fields
    assert not Task.objects.exists()


def test_assigning_a_task_to_someone_else_notifies_them(org):
    from notifications.models import Notification

    task = services.task_create(user=org.east_lead, title="回访甲公司", due_at=timezone.now(), assignee=org.east_rep)
    note = Notification.objects.get()
    assert (note.recipient, note.kind, note.target_id) == (org.east_rep, "task_assigned", task.pk)
    assert "回访甲公司" in note.title
    services.task_create(user=org.east_rep, title="自己的", due_at=timezone.now())
    assert Notification.objects.count() == 1


def test_task_status_transitions(org):
    task = TaskFactory(assignee=org.east_rep)
    task = services.task_complete(user=org.east_rep, task=task)
    assert task.status == TaskStatus.DONE and task.completed_at
    with pytest.raises(DomainError) as error:
        services.task_cancel(user=org.east_rep, task=task)
    assert error.value.status == 409
    task = services.task_reopen(user=org.east_rep, task=task)
    assert task.status == TaskStatus.OPEN and task.completed_at is None


def test_who_may_change_a_task(org):
    task = TaskFactory(assignee=org.east_rep, created_by=org.east_rep)
    for allowed in (org.east_rep, org.east_lead, org.east_manager, org.ceo):  # assignee and managers
        services.task_update(user=allowed, task=task, data={"title": f"by {allowed.username}"})
    for refused in (org.south_rep, org.east_intern, org.north_rep):
        with pytest.raises(DomainError):
            services.task_complete(user=refused, task=task)


def test_tasks_without_a_customer_are_seen_by_assignee_creator_and_managers(org):
    task = TaskFactory(assignee=org.east_rep, created_by=org.south_rep)
    seen = {name for name, user in org.users.items() if Task.objects.visible_to(user).filter(pk=task.pk).exists()}
    assert seen == {"east_rep", "south_rep", "east_lead", "east_manager", "s1_director", "ceo", "admin"}


def test_a_task_of_a_customer_in_scope_is_seen_like_the_customer_and_by_its_assignee(org):
    customer = CustomerFactory(owner=org.north_other)
    task = TaskFactory(assignee=org.east_rep, customer=customer)
    seen = {name for name, user in org.users.items() if Task.objects.visible_to(user).filter(pk=task.pk).exists()}
    assert seen == {"east_rep", "north_other", "north_rep", "ceo", "admin"}


def test_follow_ups_of_deleted_customers_are_hidden(org, customer):
    FollowUpFactory(customer=customer)
    assert FollowUp.objects.visible_to(org.east_rep).count() == 1
    customer_services.customer_delete(user=org.east_rep, customer=customer)
    assert FollowUp.objects.visible_to(org.east_rep).count() == 0
    assert FollowUp.objects.visible_to(org.ceo).count() == 0


# --- registrations --------------------------------------------------------------------------------


def test_open_tasks_follow_a_transfer_when_asked(org, customer):
    open_task = TaskFactory(assignee=org.east_rep, customer=customer)
    done = TaskFactory(assignee=org.east_rep, customer=customer, status=TaskStatus.DONE)
    customer_services.customer_transfer(user=org.east_rep, customers=[customer], to_owner=org.south_rep, reason="调岗")
    open_task.refresh_from_db()
    assert open_task.assignee == org.east_rep  # not asked
    customer.refresh_from_db()
    customer_services.customer_transfer(
        user=org.ceo, customers=[customer], to_owner=org.east_lead, reason="再调", options={"tasks": True}
    )
    open_task.refresh_from_db()
    done.refresh_from_db()
    assert open_task.assignee == org.east_lead
    assert done.assignee == org.east_rep


def test_the_merge_mover_moves_follow_ups_and_tasks_to_the_survivor(org, customer):
    from customers.services import MERGE_MOVERS

    other = make_customer(org.east_rep, name="甲公司（重复）")
    newest = services.follow_up_create(user=org.east_rep, customer=other, content="重复客户上的最新跟进")
    TaskFactory(assignee=org.east_rep, customer=other)
    assert MERGE_MOVERS["activities"](user=org.east_rep, survivor=customer, other=other) == 2
    assert FollowUp.objects.get().customer == customer
    assert Task.objects.get().customer == customer
    customer.refresh_from_db()
    assert customer.last_follow_up_at == newest.occurred_at


def test_follow_ups_and_tasks_are_on_the_customer_timeline(org, customer):
    from customers.selectors import customer_timeline

    services.follow_up_create(user=org.east_rep, customer=customer, type="visit", content="拜访了采购")
    tomorrow = timezone.now() + timedelta(days=1)
    services.task_create(user=org.east_rep, title="发报价单", due_at=tomorrow, customer=customer)
    kinds = [entry["kind"] for entry in customer_timeline(user=org.east_rep, customer=customer)]
    assert sorted(kinds) == ["follow_up", "history", "task"]
    entry = next(e for e in customer_timeline(user=org.east_rep, customer=customer) if e["kind"] == "follow_up")
    assert (entry["title"], entry["text"]) == ("拜访", "拜访了采购")


def test_a_task_handed_back_to_an_earlier_assignee_tells_them_again(org):
    from notifications.models import Notification

    task = services.task_create(user=org.east_lead, title="回访乙公司", due_at=timezone.now(), assignee=org.east_rep)
    task = services.task_update(user=org.east_lead, task=task, data={"assignee": org.east_intern})
    services.task_update(user=org.east_lead, task=task, data={"assignee": org.east_rep})
    received = list(Notification.objects.filter(kind="task_assigned").values_list("recipient__username", flat=True))
    assert sorted(received) == ["east_intern", "east_rep", "east_rep"]
