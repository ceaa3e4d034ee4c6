"""Delivery: e-mail through Django's backend (templated, in the recipient's language) and group
robots (企业微信 / 钉钉) over real HTTP against a small local server, retried after a failure."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail

from notifications import services
from notifications.models import DepartmentWebhook, Notification, NotificationPreference
from notifications.tasks import notifications_deliver_task, webhook_post_task


class RobotServer:
    """A local stand-in for a group robot: records each POST and answers with the next canned
    (status, body) — then 200 {"errcode": 0}."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(
                    {"path": self.path, "body": json.loads(self.rfile.read(length)), "headers": dict(self.headers)}
                )
                status, body = server.answers.pop(0) if server.answers else (200, {"errcode": 0, "errmsg": "ok"})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/robot/send?key=abc"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def make_notification(user, **kwargs):
    [pk] = services.notification_send(
        recipient_ids=[user.pk],
        kind=kwargs.pop("kind", "test"),
        target_id=kwargs.pop("target_id", 1),
        occasion=kwargs.pop("occasion", "x"),
        title=kwargs.pop("title", "待办提醒：发报价"),
        body=kwargs.pop("body", "截止时间：2026-11-23 10:00"),
        link=kwargs.pop("link", "/tasks/"),
    )
    return Notification.objects.get(pk=pk)


def test_email_is_sent_once_templated_in_the_recipients_language(org, settings):
    settings.SITE_URL = "https://crm.example.com"
    chinese = make_notification(org.east_rep)
    NotificationPreference.objects.create(user=org.south_rep, language="en")
    english = make_notification(org.south_rep)

    result = services.notifications_deliver(notification_ids=[chinese.pk, english.pk])
    assert result["emailed"] == 2
    by_recipient = {message.to[0]: message for message in mail.outbox}
    zh = by_recipient[org.east_rep.email]
    assert zh.subject == "待办提醒：发报价"
    assert "https://crm.example.com/tasks/" in zh.body and "客户关系管理" in zh.body
    html, mimetype = zh.alternatives[0]
    assert mimetype == "text/html" and 'lang="zh-hans"' in html
    en = by_recipient[org.south_rep.email]
    assert "CRM" in en.body and 'lang="en"' in en.alternatives[0][0]

    # Delivered again (a redelivered task): no second e-mail.
    services.notifications_deliver(notification_ids=[chinese.pk, english.pk])
    assert len(mail.outbox) == 2
    chinese.refresh_from_db()
    assert chinese.emailed_at is not None


def test_no_email_without_an_address_or_when_switched_off(org):
    org.east_rep.email = ""
    org.east_rep.save(update_fields=["email"])
    NotificationPreference.objects.create(user=org.south_rep, email_enabled=False)
    ids = [make_notification(org.east_rep).pk, make_notification(org.south_rep).pk]
    assert services.notifications_deliver(notification_ids=ids)["emailed"] == 0
    assert mail.outbox == []


def test_a_failed_email_is_released_for_the_retry(org, settings):
    settings.EMAIL_BACKEND = "notifications.tests.test_delivery.FailingBackend"
    note = make_notification(org.east_rep)
    with pytest.raises(OSError):
        services.notifications_deliver(notification_ids=[note.pk])
    note.refresh_from_db()
    assert note.emailed_at is None


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("smtp down")


def test_wecom_robot_receives_its_message_format_and_is_retried_after_a_500(org, settings):
    settings.SITE_URL = "https://crm.example.com"
    org.east_rep.mobile = "13800138000"
    org.east_rep.save(update_fields=["mobile"])
    with RobotServer(answers=[(500, {"error": "busy"})]) as robot:
        # The webhook sits on 销售一部; east_rep is in 华东组 below it.
        hook = DepartmentWebhook.objects.create(
            department=org.departments["s1"], provider="wecom", url=robot.url, show_details=True
        )
        note = make_notification(org.east_rep)
        result = webhook_post_task.apply(args=[note.pk, hook.pk])
        assert result.successful() and result.get() is True
        assert len(robot.requests) == 2  # the 500, then the retry
        first, retry = robot.requests
        assert first["body"] == retry["body"]
        assert first["path"] == "/robot/send?key=abc"
        assert first["headers"]["Content-Type"].startswith("application/json")
        assert first["body"] == {
            "msgtype": "text",
            "text": {
                "content": "【待办提醒：发报价】\n截止时间：2026-11-23 10:00\nhttps://crm.example.com/tasks/",
                "mentioned_mobile_list": ["13800138000"],
            },
        }


def test_an_errcode_from_the_robot_is_a_failure_too(org):
    busy = (200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    with RobotServer(answers=[busy, busy]) as robot:
        hook = DepartmentWebhook.objects.create(department=org.departments["east"], provider="wecom", url=robot.url)
        note = make_notification(org.east_rep)
        with pytest.raises(services.WebhookDeliveryError, match="45009"):
            services.webhook_post(webhook=hook, notification=note)
        assert webhook_post_task.apply(args=[note.pk, hook.pk]).get() is True  # busy, retried → accepted
        assert len(robot.requests) == 3


def test_webhook_retries_stop_after_the_limit(org):
    with RobotServer(answers=[(500, {})] * 20) as robot:
        hook = DepartmentWebhook.objects.create(department=org.departments["east"], provider="wecom", url=robot.url)
        note = make_notification(org.east_rep)
        result = webhook_post_task.apply(args=[note.pk, hook.pk])
        assert result.failed()
        assert len(robot.requests) == webhook_post_task.max_retries + 1


def test_dingtalk_robot_gets_its_format_signed_with_the_secret(org):
    import base64
    import hashlib
    import hmac

    org.east_rep.mobile = "13800138000"
    org.east_rep.save(update_fields=["mobile"])
    with RobotServer() as robot:
        hook = DepartmentWebhook.objects.create(
            department=org.departments["east"], provider="dingtalk", url=robot.url, secret="SECabc", show_details=True
        )
        note = make_notification(org.east_rep)
        assert webhook_post_task.apply(args=[note.pk, hook.pk]).get() is True
        [request] = robot.requests
        assert request["body"]["msgtype"] == "text"
        assert request["body"]["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
        assert request["body"]["text"]["content"].startswith("【待办提醒：发报价】")
        query = parse_qs(urlparse(request["path"]).query)
        timestamp = query["timestamp"][0]
        expected = base64.b64encode(
            hmac.new(b"SECabc", f"{timestamp}\nSECabc".encode(), hashlib.sha256).digest()
        ).decode()
        assert query["sign"] == [expected] and query["key"] == ["abc"]


def test_delivery_picks_the_nearest_departments_robot(org):
    with RobotServer() as outer, RobotServer() as inner:
        DepartmentWebhook.objects.create(department=org.departments["root"], provider="wecom", url=outer.url)
        east = DepartmentWebhook.objects.create(department=org.departments["east"], provider="wecom", url=inner.url)
        hooks = services._webhooks_for([make_notification(org.east_rep), make_notification(org.south_rep, target_id=2)])
        assert hooks[org.departments["east"].pk] == east
        assert hooks[org.departments["south"].pk].url == outer.url


@pytest.mark.django_db(transaction=True)
def test_a_new_reminder_is_delivered_after_commit_by_the_delivery_task(settings):
    """The whole path without a broker in between: insert → on_commit → deliver task → mail."""
    from staff.tests.factories import UserFactory

    settings.CELERY_TASK_ALWAYS_EAGER = True
    from crm.celery import app

    app.conf.task_always_eager = True
    try:
        user = UserFactory(email="rep@example.com")
        services.notification_send(recipient_ids=[user.pk], kind="k", target_id=1, occasion="o", title="你好")
        services.notification_send(recipient_ids=[user.pk], kind="k", target_id=1, occasion="o", title="你好")
    finally:
        app.conf.task_always_eager = False
    assert [message.subject for message in mail.outbox] == ["你好"]
    assert notifications_deliver_task.name == "notifications.tasks.notifications_deliver_task"


def test_by_default_the_group_sees_only_that_there_is_something_for_the_recipient(org, settings):
    """Everyone in a group chat reads the robot's messages, whatever their data scope: without
    show_details the message names no customer — it @-mentions the recipient and links to it."""
    from notifications.models import NotificationPreference

    settings.SITE_URL = "https://crm.example.com"
    org.east_rep.mobile = "13800138000"
    org.east_rep.display_name = "王五"
    org.east_rep.save(update_fields=["mobile", "display_name"])
    with RobotServer() as robot:
        hook = DepartmentWebhook.objects.create(department=org.departments["east"], provider="wecom", url=robot.url)
        note = make_notification(org.east_rep)
        assert webhook_post_task.apply(args=[note.pk, hook.pk]).get() is True
        NotificationPreference.objects.create(user=org.east_rep, language="en")
        assert webhook_post_task.apply(args=[note.pk, hook.pk]).get() is True
    chinese, english = (request["body"]["text"] for request in robot.requests)
    assert chinese == {
        "content": "王五，你有一条新提醒，请在系统中查看。\nhttps://crm.example.com/tasks/",
        "mentioned_mobile_list": ["13800138000"],
    }
    assert english["content"].startswith("王五, you have a new reminder") and "发报价" not in english["content"]
