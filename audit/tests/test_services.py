"""Recording events, one or many; the log is append-only in the database; expired events are
purged once a day."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.request import Request

from audit.models import AuditAction, AuditEvent
from audit.services import audit_purge_expired, audit_record, audit_record_many
from audit.tasks import audit_purge_expired_task
from audit.tests.factories import old_event
from crm.models import PeriodicRun
from staff.models import Department

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_from_office():
    return RequestFactory().post("/api/v1/x/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")


def test_record_keeps_actor_target_data_and_client(org, request_from_office):
    department = org.departments["east"]

    event = audit_record(
        actor=org.east_rep,
        action=AuditAction.EXPORT,
        target=department,
        data={"rows": 12, "since": timezone.now()},
        request=request_from_office,
    )

    event.refresh_from_db()
    assert event.actor == org.east_rep
    assert event.actor_repr == f"{org.east_rep.display_name} (east_rep)"
    assert (event.action, event.target_type, event.target_id) == ("export", "staff.department", str(department.pk))
    assert event.target_repr == "华东组"
    assert event.data["rows"] == 12 and isinstance(event.data["since"], str)  # dates stored as ISO text
    assert (event.ip, event.user_agent) == ("203.0.113.5", "Mozilla/5.0 (iPhone)")
    assert timezone.now() - event.at < timedelta(seconds=5)


def test_actor_repr_names_display_name_and_username(org):
    org.east_rep.display_name = "王五"
    assert audit_record(actor=org.east_rep, action=AuditAction.REVEAL).actor_repr == "王五 (east_rep)"
    org.east_rep.display_name = ""
    assert audit_record(actor=org.east_rep, action=AuditAction.REVEAL).actor_repr == "east_rep"


def test_record_without_actor_target_or_request(db):
    event = audit_record(actor=None, action=AuditAction.PURGE)
    assert (event.actor, event.actor_repr, event.target_type, event.target_id, event.data, event.ip) == (
        None,
        "",
        "",
        "",
        {},
        None,
    )


def test_record_takes_a_drf_request_and_trusted_proxy_address(org, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    django_request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7", HTTP_USER_AGENT="x" * 400
    )
    event = audit_record(actor=org.ceo, action=AuditAction.EXPORT, request=Request(django_request))
    assert event.ip == "198.51.100.7"
    assert event.user_agent == "x" * 300


def test_unknown_action_is_refused(org):
    with pytest.raises(ValueError):
        audit_record(actor=org.ceo, action="dance")


def test_record_many_writes_one_row_per_target(org, request_from_office, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr("audit.services.BULK_BATCH_SIZE", 2)
    departments = list(Department.objects.order_by("pk"))  # 6

    # 3 inserts of 2 rows (+ savepoint bookkeeping), not a query per row
    with django_assert_max_num_queries(5):
        count = audit_record_many(
            actor=org.ceo,
            action=AuditAction.TRANSFER,
            targets=iter(departments),
            data={"reason": "调岗"},
            request=request_from_office,
        )

    assert count == 6
    events = AuditEvent.objects.order_by("target_id")
    assert sorted(events.values_list("target_id", flat=True)) == sorted(str(d.pk) for d in departments)
    assert {(e.actor_id, e.action, e.data["reason"], e.ip) for e in events} == {
        (org.ceo.pk, "transfer", "调岗", "203.0.113.5")
    }
    assert len({e.at for e in events}) == 1


def test_record_many_of_nothing_writes_nothing(org):
    assert audit_record_many(actor=org.ceo, action=AuditAction.PURGE, targets=[]) == 0
    assert not AuditEvent.objects.exists()


# --- append-only -----------------------------------------------------------------------------------


def _refused(action):
    with pytest.raises(IntegrityError), transaction.atomic():
        action()


def test_update_is_refused_by_the_database(org):
    event = audit_record(actor=org.ceo, action=AuditAction.EXPORT, data={"rows": 1})

    _refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(data={"rows": 0}))
    event.target_repr = "forged"
    _refused(lambda: event.save())
    _refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(actor=None, actor_repr=""))

    def raw_update():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET at = at - interval '1 year' WHERE id = %s", [event.pk])

    _refused(raw_update)
    # An old row is no more changeable than a fresh one.
    old = old_event(days=400)
    _refused(lambda: AuditEvent.objects.filter(pk=old.pk).update(action=AuditAction.LOGIN))


def test_delete_of_a_young_row_is_refused(org):
    event = old_event(days=179, actor=org.ceo)
    _refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    _refused(lambda: AuditEvent.objects.all().delete())
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_delete_of_a_row_past_the_minimum_works(db):
    event = old_event(days=200)
    AuditEvent.objects.filter(pk=event.pk).delete()
    assert not AuditEvent.objects.exists()


def test_deleting_a_user_keeps_their_events_under_their_name(org):
    user = org.east_rep
    user.display_name = ""
    event = audit_record(actor=user, action=AuditAction.REVEAL)
    user.delete()
    event.refresh_from_db()
    assert (event.actor, event.actor_repr) == (None, "east_rep")


# --- purge -----------------------------------------------------------------------------------------


def test_purge_deletes_events_past_the_retention(db, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    old_event(days=400)
    kept = [old_event(days=200).pk, old_event(days=1).pk]

    assert audit_purge_expired() == 1
    assert sorted(AuditEvent.objects.values_list("pk", flat=True)) == sorted(kept)

    settings.AUDIT_RETENTION_DAYS = 180
    assert audit_purge_expired() == 1
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == kept[1:]


def test_purge_never_goes_below_the_minimum(db, settings):
    settings.AUDIT_RETENTION_DAYS = 30  # settings refuse it; a stray override must not break the purge
    old_event(days=100)
    assert audit_purge_expired() == 0


def test_purge_task_runs_once_a_day(db, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    old_event(days=400)

    assert audit_purge_expired_task() == {"deleted": 1}
    old_event(days=500)
    assert audit_purge_expired_task() == {"deleted": 1}  # the day's run is done: nothing more deleted

    assert AuditEvent.objects.count() == 1
    run = PeriodicRun.objects.get(job="audit.purge_expired")
    assert run.finished_at is not None and run.result == {"deleted": 1}
