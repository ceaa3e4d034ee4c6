"""Reads of the analytics app: a customer's profile through the customer's scope, and the figures
behind it for the 360 card."""

from analytics.models import AnalyticsSettings, CustomerProfile

DAY_SECONDS = 86_400


def profile_for_customer(*, customer):
    """The stored profile of a customer the caller has already fetched through its scope (None
    until the first recompute)."""
    return CustomerProfile.objects.filter(customer_id=customer.pk).first()


def profile_list(*, user):
    """Profiles of the customers ``user`` may see."""
    return CustomerProfile.objects.visible_to(user)


def churn_model_auc(*, profile):
    """The hold-out AUC of the model that scored ``profile`` (None when the rule did)."""
    if profile is None or profile.churn_source != "model":
        return None
    return AnalyticsSettings.load().churn_model_auc


def profile_reasons(*, profile):
    """The figures behind the scores, as of the profile's ``computed_at``: days since the last
    purchase and the last contact (fractional, one decimal shown), purchases, total."""
    if profile is None:
        return {}
    at = profile.computed_at

    def days(moment):
        return None if moment is None else (at - moment).total_seconds() / DAY_SECONDS

    return {
        "days_since_purchase": days(profile.last_purchase_at),
        "days_since_contact": days(profile.last_contact_at),
        "purchase_count": profile.purchase_count,
        "purchase_total": profile.purchase_total,
    }


def analytics_settings():
    return AnalyticsSettings.load()
