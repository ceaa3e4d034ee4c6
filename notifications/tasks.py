"""Thin Celery tasks of the notifications queue: ids in, a service call out."""

from celery import shared_task

from notifications import services
from notifications.models import DepartmentWebhook, Notification


@shared_task
def reminders_generate_task(cadence=None):
    """Beat: the registered reminder kinds of one cadence (see notifications.reminders). Safe to
    run twice or concurrently: each reminder is inserted once."""
    return services.reminders_generate(cadence=cadence)


@shared_task
def notifications_deliver_task(notification_ids):
    return services.notifications_deliver(notification_ids=notification_ids)


@shared_task(
    bind=True,
    autoretry_for=(services.WebhookDeliveryError,),
    retry_backoff=10,  # 10 s, 20 s, 40 s … between attempts
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def webhook_post_task(self, notification_id, webhook_id):
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    webhook = DepartmentWebhook.objects.filter(pk=webhook_id, is_active=True).first()
    if notification is None or webhook is None:
        return False
    return services.webhook_post(webhook=webhook, notification=notification)
