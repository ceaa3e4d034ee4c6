from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction
from audit.selectors import audit_event_list
from audit.services import audit_record
from audit.tests.factories import old_event

pytestmark = pytest.mark.django_db


def test_filters_combine_and_newest_come_first(org):
    customer_like = org.departments["east"]
    first = audit_record(actor=org.east_rep, action=AuditAction.REVEAL, target=customer_like)
    second = audit_record(actor=org.east_rep, action=AuditAction.REVEAL, target=customer_like)
    audit_record(actor=org.ceo, action=AuditAction.REVEAL, target=customer_like)
    audit_record(actor=org.east_rep, action=AuditAction.EXPORT)
    old = old_event(days=30, actor=org.east_rep, action=AuditAction.REVEAL)

    assert list(audit_event_list(action=AuditAction.REVEAL, actor=org.east_rep)) == [second, first, old]
    assert list(audit_event_list(actor=org.east_rep.pk, since=timezone.now() - timedelta(days=1)))[-1] == first
    assert list(audit_event_list(until=timezone.now() - timedelta(days=1))) == [old]
    by_target = audit_event_list(target_type="staff.department", target_id=customer_like.pk)
    assert by_target.count() == 3


def test_one_query_however_many_events(org, django_assert_num_queries):
    for user in org.users.values():
        audit_record(actor=user, action=AuditAction.LOGIN)

    with django_assert_num_queries(1):
        names = [event.actor.username for event in audit_event_list()]

    assert len(names) == len(org.users)
