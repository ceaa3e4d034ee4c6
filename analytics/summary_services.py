"""Writes of 日报 / 周报 / 月报: subscriptions, and the e-mails beat sends for the period just ended.

Sending (``summaries_send``) is idempotent and isolates failures:

- each (subscription, period start) is claimed by inserting a SummaryDelivery row under a unique
  constraint, in the same transaction as the e-mail: a second beat, a retry or a concurrent
  worker finds the row (or waits for the first transaction, then finds it) and sends nothing;
- a failure (the mail server refusing one message, a subscriber's figures failing) rolls back
  only that subscription's claim and is reported; the others are sent, and a retry of the same
  period sends only what is still missing;
- the figures are computed with the subscriber's own data scope at send time; a department the
  subscriber may no longer summarise is skipped (nothing recorded, nothing sent).
"""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from analytics.models import SummaryDelivery, SummaryFrequency, SummarySubscription
from analytics.reports.base import PERCENT
from analytics.reports.periods import DAY, MONTH, WEEK
from analytics.summaries import (
    GRANULARITIES,
    last_complete_period,
    period_label,
    shown,
    summary_departments,
    summary_figures,
    summary_period,
    summary_subject_for,
)
from crm.errors import DomainError
from notifications.services import recipient_languages

logger = logging.getLogger(__name__)

FREQUENCY_GRANULARITY = {SummaryFrequency.DAILY: DAY, SummaryFrequency.WEEKLY: WEEK, SummaryFrequency.MONTHLY: MONTH}


# --- subscriptions -----------------------------------------------------------------------------------


def summary_subscribe(*, user, frequency, department=None):
    """Subscribe ``user`` to the ``frequency`` summary of themselves (no department) or of a
    department they may summarise; subscribing again re-activates. Returns the subscription."""
    if frequency not in SummaryFrequency.values:
        raise DomainError(_("请选择日报、周报或月报。"), fields={"frequency": [_("请选择日报、周报或月报。")]})
    if department is not None and not summary_departments(viewer=user).filter(pk=department.pk).exists():
        message = _("只能订阅你的数据范围内的部门。")
        raise DomainError(message, fields={"subject": [message]})
    with transaction.atomic():
        subscription, created = SummarySubscription.objects.get_or_create(
            user=user, frequency=frequency, department=department
        )
        if not created and not subscription.active:
            subscription.active = True
            subscription.save(update_fields=["active", "updated_at"])
    return subscription


def summary_unsubscribe(*, user, subscription_id):
    """Delete one of ``user``'s own subscriptions (404 for anyone else's, as for a missing one)."""
    deleted, _rows = SummarySubscription.objects.filter(user=user, pk=subscription_id).delete()
    if not deleted:
        raise Http404
    return True


# --- sending -----------------------------------------------------------------------------------------


class _Skip(Exception):
    """The subscriber may no longer summarise the subscribed department: roll the claim back."""


def summary_link(*, subject, period):
    query = urlencode({"period": period.granularity, "date": period.start.isoformat(), "subject": subject.key})
    return f"{settings.SITE_URL.rstrip('/')}{reverse('analytics:summary')}?{query}"


def summary_email(*, subscription, summary, language):
    """The e-mail (HTML + text) of one summary in ``language``."""
    period = summary.period
    with translation.override(language):
        kind = str(GRANULARITIES[period.granularity])
        title = f"{kind} · {summary.subject.name} · {period_label(period)}"
        context = {
            "title": title,
            "kind": kind,
            "user": subscription.user,
            "summary": summary,
            "period_text": f"{period.start:%Y-%m-%d} ~ {period.end:%Y-%m-%d}",
            "previous_text": f"{summary.previous.start:%Y-%m-%d} ~ {summary.previous.end:%Y-%m-%d}",
            "rows": [
                {
                    "line": line,
                    "current": shown(line.current, line.kind),
                    "previous": shown(line.previous, line.kind),
                    "change": shown(line.change, PERCENT),
                }
                for line in summary.lines
            ],
            "url": summary_link(subject=summary.subject, period=period),
            "language": language,
        }
        text = render_to_string("analytics/email/summary.txt", context)
        html = render_to_string("analytics/email/summary.html", context)
    message = EmailMultiAlternatives(
        subject=title, body=text, to=[subscription.user.email], from_email=settings.DEFAULT_FROM_EMAIL
    )
    message.attach_alternative(html, "text/html")
    return message


def summaries_due(*, frequency, period):
    """Active subscriptions of ``frequency`` by active staff with an e-mail address, not yet sent
    for ``period``."""
    sent = SummaryDelivery.objects.filter(period_start=period.start).values("subscription_id")
    return (
        SummarySubscription.objects.filter(frequency=frequency, active=True, user__is_active=True)
        .exclude(user__email="")
        .exclude(pk__in=sent)
        .select_related("user__department", "department")
        .order_by("pk")
    )


def _send_one(subscription, period, language, connection):
    """Claim (subscription, period) and send its e-mail, in one transaction; False if it was
    claimed already (sent by another run)."""
    user = subscription.user
    with transaction.atomic():
        try:
            with transaction.atomic():
                SummaryDelivery.objects.create(
                    subscription=subscription, period_start=period.start, period_end=period.end
                )
        except IntegrityError:
            return False
        try:
            subject = summary_subject_for(viewer=user, department_id=subscription.department_id)
        except Http404:
            raise _Skip from None
        summary = summary_figures(viewer=user, subject=subject, period=period)
        message = summary_email(subscription=subscription, summary=summary, language=language)
        message.connection = connection
        message.send()
    return True


def summaries_send(*, frequency, day=None):
    """Send every due ``frequency`` summary for the period containing ``day`` (default: the one
    just ended — yesterday, last week, last month). Returns {"period_start", "period_end", "sent",
    "skipped", "failed": [subscription ids]}."""
    granularity = FREQUENCY_GRANULARITY[frequency]
    period = summary_period(granularity, day) if day else last_complete_period(granularity)
    subscriptions = list(summaries_due(frequency=frequency, period=period))
    languages = recipient_languages([subscription.user_id for subscription in subscriptions])
    sent, skipped, failed = 0, 0, []
    connection = get_connection() if subscriptions else None
    for subscription in subscriptions:
        try:
            if _send_one(subscription, period, languages[subscription.user_id], connection):
                sent += 1
        except _Skip:
            logger.info("summary subscription %s: department no longer in scope, skipped", subscription.pk)
            skipped += 1
        except Exception:  # noqa: BLE001 - one subscriber's failure must not stop the others; reported
            logger.exception("summary subscription %s failed", subscription.pk)
            failed.append(subscription.pk)
            connection = get_connection()  # a fresh one: the failure may have broken the old
    return {
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "sent": sent,
        "skipped": skipped,
        "failed": failed,
    }
