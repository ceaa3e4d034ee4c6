"""Writes of notifications: reminders from the registry (``reminders_generate``), one-off messages
(``notification_send``), read marks, and delivery by e-mail and group-robot webhook.

Every notification is inserted through ``notifications_insert`` — ``INSERT … ON CONFLICT DO
NOTHING RETURNING id`` against the unique (kind, target_id, recipient, occasion) — and only the
rows that insert hands back are delivered, after the transaction commits. So whatever runs twice
(beat, a retried task, two workers) inserts and delivers a reminder once."""

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications import reminders
from notifications.models import DepartmentWebhook, Notification, NotificationPreference, WebhookProvider

logger = logging.getLogger(__name__)

# Rows per INSERT statement (8 parameters each: well under PostgreSQL's 65,535).
INSERT_BATCH = 500
# Notification ids per delivery task.
DELIVERY_BATCH = 100


class WebhookDeliveryError(Exception):
    """The robot did not accept the message (network error, non-2xx, or errcode ≠ 0): retried."""


# --- rendering ----------------------------------------------------------------------------------


def _display(value):
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _render(template, params, language):
    if not template:
        return ""
    with translation.override(language):
        text = str(template)
    return text % {key: _display(value) for key, value in params.items()} if params else text


def recipient_languages(recipient_ids):
    """recipient id → language code (zh-hans unless the person chose otherwise); one query."""
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=set(recipient_ids)).values_list("user_id", "language")
    )
    return {pk: chosen.get(pk, settings.LANGUAGE_CODE) for pk in recipient_ids}


# --- inserting ----------------------------------------------------------------------------------

INSERT_SQL = """
    INSERT INTO notifications_notification
        (recipient_id, kind, target_id, occasion, title, body, link, created_at)
    VALUES {values}
    ON CONFLICT (kind, target_id, recipient_id, occasion) DO NOTHING
    RETURNING id
"""


def notifications_insert(rows):
    """Insert notification dicts (recipient_id, kind, target_id, occasion, title, body, link);
    rows whose (kind, target_id, recipient, occasion) exists already — or is being inserted by a
    concurrent transaction, which this one then waits for — are skipped. Returns the new ids and
    schedules their delivery for after the commit."""
    new_ids = []
    now = timezone.now()
    rows = list(rows)
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        params = []
        for row in batch:
            params.extend(
                [
                    row["recipient_id"],
                    row["kind"],
                    row["target_id"],
                    str(row["occasion"])[:64],
                    str(row["title"])[:200],
                    row.get("body", ""),
                    str(row.get("link", ""))[:300],
                    now,
                ]
            )
        sql = INSERT_SQL.format(values=", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(batch)))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            new_ids.extend(row[0] for row in cursor.fetchall())
    if new_ids:
        from notifications.tasks import notifications_deliver_task

        for start in range(0, len(new_ids), DELIVERY_BATCH):
            notifications_deliver_task.delay_on_commit(new_ids[start : start + DELIVERY_BATCH])
    return new_ids


def _pending(kind, queryset):
    """The kind's rows not yet sent, to active staff only, as dicts."""
    from staff.models import User

    sent = Notification.objects.filter(
        kind=kind.key, target_id=OuterRef("target_id"), recipient_id=OuterRef("recipient_id"),
        occasion=OuterRef("occasion"),
    )  # fmt: skip
    active = User.objects.filter(pk=OuterRef("recipient_id"), is_active=True)
    return (
        queryset.filter(Exists(active))
        .filter(~Exists(sent))
        .order_by()
        .values("target_id", "recipient_id", "occasion", *kind.fields)
    )


def reminders_generate(*, now=None, cadence=None, keys=None):
    """Turn the registered kinds' due rows into notifications; returns {kind: new reminders}.
    Each kind commits on its own, so one failing kind does not hold back the others' reminders
    (the task raises afterwards and its retry finds the rest already sent)."""
    now = now or timezone.now()
    created, failed = {}, []
    for kind in reminders.kinds(cadence=cadence, keys=keys):
        try:
            with transaction.atomic():
                created[kind.key] = _generate_kind(kind, now)
        except Exception:  # noqa: BLE001 - reported and re-raised below, after the other kinds ran
            logger.exception("reminder kind %s failed", kind.key)
            failed.append(kind.key)
    if failed:
        raise RuntimeError(f"reminder kinds failed: {', '.join(failed)}")
    return created


def _generate_kind(kind, now):
    querysets = kind.rows(now)
    if not isinstance(querysets, list | tuple):
        querysets = [querysets]
    count = 0
    for queryset in querysets:
        pending = list(_pending(kind, queryset))
        languages = recipient_languages({row["recipient_id"] for row in pending})
        rows = []
        for row in pending:
            language = languages[row["recipient_id"]]
            params = {name: row[name] for name in kind.fields}
            rows.append(
                {
                    "recipient_id": row["recipient_id"],
                    "kind": kind.key,
                    "target_id": row["target_id"],
                    "occasion": row["occasion"],
                    "title": _render(kind.title, params, language),
                    "body": _render(kind.body, params, language),
                    "link": kind.link(row) if kind.link else "",
                }
            )
        count += len(notifications_insert(rows))
    return count


def notification_send(*, recipient_ids, kind, target_id, occasion, title, body="", params=None, link=""):
    """A one-off notification (a task assigned to someone, …) to several people, rendered in each
    one's language; unique per (kind, target_id, recipient, occasion) like every reminder.
    Returns the new notification ids."""
    recipient_ids = list(dict.fromkeys(recipient_ids))
    languages = recipient_languages(recipient_ids)
    rows = [
        {
            "recipient_id": pk,
            "kind": kind,
            "target_id": target_id,
            "occasion": occasion,
            "title": _render(title, params or {}, languages[pk]),
            "body": _render(body, params or {}, languages[pk]),
            "link": link,
        }
        for pk in recipient_ids
    ]
    return notifications_insert(rows)


# --- reading marks ------------------------------------------------------------------------------


def notification_mark_read(*, user, notification):
    if notification.recipient_id != user.pk:  # callers fetch through for_recipient; belt and braces
        return notification
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def notifications_mark_all_read(*, user):
    """Every unread notification of ``user`` read, in one statement; returns how many."""
    return Notification.objects.for_recipient(user).unread().update(read_at=timezone.now())


# --- delivery -----------------------------------------------------------------------------------


def _absolute(link):
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL.rstrip("/") + link


def notifications_deliver(*, notification_ids):
    """E-mail each notification to its recipient (once: ``emailed_at`` is claimed before sending
    and released if sending fails) and hand it to the recipient department's group robot."""
    rows = list(
        Notification.objects.filter(pk__in=notification_ids)
        .select_related("recipient__department", "recipient__notification_pref")
        .order_by("pk")
    )
    emailed = _send_emails(rows)
    hooks = _webhooks_for(rows)
    from notifications.tasks import webhook_post_task

    posted = 0
    for notification in rows:
        hook = hooks.get(notification.recipient.department_id)
        if hook is not None and notification.recipient.is_active:
            webhook_post_task.delay(notification.pk, hook.pk)
            posted += 1
    return {"emailed": emailed, "webhooks": posted}


def _preference(user):
    try:
        return user.notification_pref
    except NotificationPreference.DoesNotExist:
        return None


def _wants_email(user):
    pref = _preference(user)
    return bool(user.is_active and user.email and (pref is None or pref.email_enabled))


def _send_emails(rows):
    sent = 0
    mail_connection = None
    for notification in rows:
        user = notification.recipient
        if notification.emailed_at is not None or not _wants_email(user):
            continue
        claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed:
            continue
        pref = _preference(user)
        language = pref.language if pref else settings.LANGUAGE_CODE
        context = {
            "notification": notification,
            "user": user,
            "url": _absolute(notification.link),
            "language": language,
        }
        with translation.override(language):
            text = render_to_string("notifications/email/notification.txt", context)
            html = render_to_string("notifications/email/notification.html", context)
        message = EmailMultiAlternatives(
            subject=notification.title, body=text, to=[user.email], from_email=settings.DEFAULT_FROM_EMAIL
        )
        message.attach_alternative(html, "text/html")
        try:
            mail_connection = mail_connection or get_connection()
            message.connection = mail_connection
            message.send()
        except Exception:
            Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
            raise
        sent += 1
    return sent


def _webhooks_for(rows):
    """department id → the active webhook of the nearest department up its path (one query)."""
    departments = {row.recipient.department for row in rows if row.recipient.department_id}
    ancestor_ids = set()
    chains = {}
    for department in departments:
        chain = [int(part) for part in (department.path or "").strip("/").split("/") if part] or [department.pk]
        chains[department.pk] = chain
        ancestor_ids.update(chain)
    hooks = {hook.department_id: hook for hook in DepartmentWebhook.objects.filter(
        department_id__in=ancestor_ids, is_active=True
    )}  # fmt: skip
    found = {}
    for department_id, chain in chains.items():
        for ancestor in reversed(chain):  # the deepest first
            if ancestor in hooks:
                found[department_id] = hooks[ancestor]
                break
    return found


def webhook_payload(*, webhook, notification):
    """The message in the robot's own format: 企业微信 ``text`` with the recipient's mobile in
    ``mentioned_mobile_list``; 钉钉 ``text`` with ``at.atMobiles``. A group chat is read by everyone
    in it, whatever their data scope: unless the robot is set to ``show_details``, the message
    only tells the recipient there is something for them, with the link (which checks scope)."""
    user = notification.recipient
    if webhook.show_details:
        lines = [f"【{notification.title}】"]
        if notification.body:
            lines.append(notification.body)
    else:
        pref = _preference(user)
        with translation.override(pref.language if pref else settings.LANGUAGE_CODE):
            lines = [_("%(name)s，你有一条新提醒，请在系统中查看。") % {"name": user.get_short_name()}]
    if notification.link:
        lines.append(_absolute(notification.link))
    content = "\n".join(lines)
    mobiles = [user.mobile] if user.mobile else []
    if webhook.provider == WebhookProvider.WECOM:
        return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mobiles}}
    return {"msgtype": "text", "text": {"content": content}, "at": {"atMobiles": mobiles, "isAtAll": False}}


def _signed_url(webhook):
    """钉钉 加签: &timestamp=…&sign=base64(HMAC-SHA256(secret, "timestamp\\nsecret"))."""
    if webhook.provider != WebhookProvider.DINGTALK or not webhook.secret:
        return webhook.url
    timestamp = str(round(time.time() * 1000))
    digest = hmac.new(webhook.secret.encode(), f"{timestamp}\n{webhook.secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in webhook.url else "?"
    return f"{webhook.url}{separator}timestamp={timestamp}&sign={sign}"


def webhook_post(*, webhook, notification):
    """POST one notification to a group robot; WebhookDeliveryError unless it is accepted."""
    body = json.dumps(webhook_payload(webhook=webhook, notification=notification), ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is an admin-configured http(s) webhook
        _signed_url(webhook), data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.NOTIFICATION_WEBHOOK_TIMEOUT) as response:  # noqa: S310
            status, raw = response.status, response.read(65_536)
    except urllib.error.HTTPError as error:
        raise WebhookDeliveryError(f"HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise WebhookDeliveryError(str(error)) from error
    if not 200 <= status < 300:
        raise WebhookDeliveryError(f"HTTP {status}")
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
        raise WebhookDeliveryError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")
    return True
