"""Writes of the analytics app: profile recomputes (bulk, per customer, scheduled after a change),
the churn model's training, and the settings.

Other apps call ``profile_recompute_schedule(customer_ids=[…])`` from inside the service that
changed a customer's contracts or follow-ups: after the commit, a debounced task recomputes
those customers alone."""

import logging
import time

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import AnalyticsSettings, CustomerProfile
from crm.errors import DomainError

logger = logging.getLogger(__name__)

# A burst of changes to one customer (a contract with ten lines, its approval, a follow-up) gives
# one recompute: the first change marks the customer for this many seconds and queues a task
# that runs when they are over; later changes within the window find the mark and add nothing.
DEBOUNCE_SECONDS = 10
# The mark outlives the task's delay by far: the task clears it when it starts; if the task was
# lost, the mark expires by itself and the nightly run catches up.
DEBOUNCE_MARK_SECONDS = 10 * 60
PROGRESS_KEY = "analytics:recompute:progress"
PROGRESS_SECONDS = 24 * 60 * 60


def _mark_key(customer_id):
    return f"analytics:recompute:pending:{customer_id}"


# --- per customer ---------------------------------------------------------------------------------


def profiles_recompute(*, customer_ids, now=None):
    """Recompute the profiles of ``customer_ids`` (live customers; others are skipped) with the
    bulk code path filtered to them. Returns the number written."""
    from analytics import engine  # pandas: loaded by the processes that compute, not by every import

    ids = sorted({int(pk) for pk in customer_ids if pk})
    if not ids:
        return 0
    return engine.recompute(ids=ids, as_of=now)


def profile_recompute_schedule(*, customer_ids):
    """Schedule a recompute of these customers after the current transaction commits, debounced
    (see DEBOUNCE_SECONDS). Safe to call from any service, inside or outside a transaction."""
    ids = sorted({int(pk) for pk in customer_ids if pk})
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids):
    from analytics.tasks import profiles_recompute_task

    try:
        fresh = [pk for pk in ids if cache.add(_mark_key(pk), 1, DEBOUNCE_MARK_SECONDS)]
    except Exception:  # Redis down: no debounce rather than no recompute
        logger.warning("analytics debounce unavailable; scheduling without it", exc_info=True)
        fresh = ids
    if not fresh:
        return
    try:
        profiles_recompute_task.apply_async(kwargs={"customer_ids": fresh}, countdown=DEBOUNCE_SECONDS)
    except Exception:  # the change is committed; the nightly recompute picks the customer up
        logger.warning("could not queue a profile recompute for %s", fresh, exc_info=True)
        _clear_marks(fresh)


def _clear_marks(ids):
    try:
        cache.delete_many([_mark_key(pk) for pk in ids])
    except Exception:
        logger.warning("could not clear analytics debounce marks", exc_info=True)


def profiles_recompute_scheduled(*, customer_ids):
    """The scheduled task's work: clear the marks first (a change committed from now on queues a
    new task), then recompute."""
    _clear_marks(customer_ids)
    return profiles_recompute(customer_ids=customer_ids)


def profile_ensure(*, customer):
    """The customer's profile, computed now if it has never been (a customer created since the
    last nightly run). None for a customer in the recycle bin."""
    profile = CustomerProfile.objects.filter(customer_id=customer.pk).first()
    if profile is None:
        profiles_recompute(customer_ids=[customer.pk])
        profile = CustomerProfile.objects.filter(customer_id=customer.pk).first()
    return profile


# --- bulk ------------------------------------------------------------------------------------------


def churn_model_train(*, now=None):
    """Train the churn model on the company's own history (``engine.training_set``) and store it
    with its hold-out AUC and training time; with too little history, or a model no better than
    ``engine.MIN_AUC``, clear it (the rule is used; a poor AUC stays on show). Returns the AUC or
    None."""
    from analytics import engine

    settings = AnalyticsSettings.load()
    now = now or timezone.now()
    features, labels = engine.training_set(now=now)
    model, auc = engine.churn_model_fit(features, labels, min_labelled=settings.churn_model_min_labelled)
    AnalyticsSettings.objects.filter(pk=1).update(
        churn_model=model,
        churn_model_auc=auc,
        churn_model_trained_at=now if auc is not None else None,
        churn_model_samples=len(labels),
    )
    logger.info("churn model: %s labelled customers, AUC %s", len(labels), auc)
    return auc


def profiles_recompute_all(*, train=True, now=None, progress=None):
    """Recompute every live customer's profile (nightly, and on demand from the settings page):
    the churn model first (``train``), then quantile breakpoints (quantile mode), then the
    profiles. Returns the number written."""
    from analytics import engine, rules

    now = now or timezone.now()
    started = time.monotonic()
    if train:
        churn_model_train(now=now)
    settings = AnalyticsSettings.load()
    params = rules.Params.from_settings(settings)
    breaks = {}

    def keep_breaks(value):
        breaks.update(value)

    written = engine.recompute(
        as_of=now,
        params=params,
        progress=progress,
        quantile_breaks_out=keep_breaks if settings.scoring_mode == "quantile" else None,
    )
    fields = {"last_bulk_at": now, "last_bulk_seconds": time.monotonic() - started, "last_bulk_count": written}
    if settings.scoring_mode == "quantile":
        fields["quantile_breaks"] = breaks
    AnalyticsSettings.objects.filter(pk=1).update(**fields)
    return written


def recompute_progress_set(**state):
    cache.set(PROGRESS_KEY, {**(cache.get(PROGRESS_KEY) or {}), **state}, PROGRESS_SECONDS)


def profiles_recompute_all_start(*, user):
    """The settings page's 立即重新计算: queue the bulk task unless one is queued or running."""
    if not user.has_perm("analytics.change_analyticssettings"):
        raise DomainError(_("您没有执行该操作的权限。"), code="permission_denied", status=403)
    from analytics.tasks import profiles_recompute_all_task

    state = cache.get(PROGRESS_KEY) or {}
    if state.get("state") in ("queued", "running"):
        raise DomainError(_("画像正在重新计算，请稍候。"), code="already_running", status=409)
    cache.set(
        PROGRESS_KEY,
        {"state": "queued", "done": 0, "total": 0, "started_at": timezone.now().isoformat(), "error": ""},
        PROGRESS_SECONDS,
    )
    transaction.on_commit(lambda: profiles_recompute_all_task.delay(report=True))


def profiles_recompute_all_reported():
    """The bulk recompute with its progress in the cache (the settings page polls it)."""
    recompute_progress_set(state="running", done=0, total=0, phase="train")
    try:

        def progress(done, total):
            recompute_progress_set(state="running", phase="score", done=done, total=total)

        written = profiles_recompute_all(progress=progress)
    except Exception as error:
        recompute_progress_set(state="failed", error=str(error)[:200], finished_at=timezone.now().isoformat())
        raise
    recompute_progress_set(state="done", done=written, total=written, finished_at=timezone.now().isoformat())
    return written


# --- settings --------------------------------------------------------------------------------------


def tag_rules_validate(value):
    """A list of {tag, field, op, value}: known field and operator, a short plain tag name, a
    number (or a lifecycle code for ``lifecycle``). Raises DomainError with a zh-hans message."""
    from analytics import rules
    from analytics.models import Lifecycle

    def invalid(message):
        raise DomainError(message, fields={"tag_rules": [message]})

    if not isinstance(value, list):
        invalid(_("自动标签规则应为列表。"))
    cleaned = []
    for rule in value:
        if not isinstance(rule, dict) or set(rule) != {"tag", "field", "op", "value"}:
            invalid(_("每条规则需要且只能包含 tag、field、op、value。"))
        tag = str(rule["tag"]).strip()
        if not tag or len(tag) > 30 or any(char in tag for char in "{}\",\\'") or any(c.isspace() for c in tag):
            invalid(_("标签名称需为 1–30 个字符，且不能包含空格、引号、逗号、花括号或反斜杠。"))
        if rule["field"] not in rules.TAG_FIELDS:
            invalid(_("规则字段 %(field)s 不可用。") % {"field": rule["field"]})
        if rule["op"] not in rules.TAG_OPS:
            invalid(_("比较符 %(op)s 不可用。") % {"op": rule["op"]})
        if rule["field"] == "lifecycle":
            if rule["value"] not in Lifecycle.values or rule["op"] not in ("==", "!="):
                invalid(_("生命周期规则只能用 == 或 !=，值为生命周期代码。"))
            number = rule["value"]
        else:
            try:
                number = float(rule["value"])
            except (TypeError, ValueError):
                invalid(_("规则的值需为数字。"))
            if number != number or number in (float("inf"), float("-inf")):
                invalid(_("规则的值需为数字。"))
        cleaned.append({"tag": tag, "field": rule["field"], "op": rule["op"], "value": number})
    return cleaned


def analytics_settings_update(*, user, data):
    """Save the settings (validated by the page's form); takes effect at the next recompute."""
    if not user.has_perm("analytics.change_analyticssettings"):
        raise DomainError(_("您没有执行该操作的权限。"), code="permission_denied", status=403)
    settings = AnalyticsSettings.load()
    fields = [
        "recency_days_step",
        "frequency_step",
        "monetary_step",
        "scoring_mode",
        "clv_horizon_years",
        "clv_discount_rate",
        "churn_model_min_labelled",
        "tag_rules",
    ]
    data = {**data, "tag_rules": tag_rules_validate(data.get("tag_rules", settings.tag_rules))}
    for name in fields:
        if name in data:
            setattr(settings, name, data[name])
    settings.save(update_fields=[name for name in fields if name in data])
    return settings
