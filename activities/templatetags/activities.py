from django import template
from django.conf import settings

from activities.forms import QuickFollowUpForm
from customers.selectors import customer_editable

register = template.Library()


@register.inclusion_tag("activities/partials/_quick_follow_up.html", takes_context=True)
def quick_follow_up(context, customer):
    """The 写跟进 card of a customer's 360 page, for those who may log one."""
    user = context["request"].user
    allowed = user.has_perm("activities.add_followup") and customer_editable(user=user, customer=customer)
    return {
        "customer": customer,
        "can_follow_up": allowed,
        "follow_up_form": QuickFollowUpForm() if allowed else None,
        "checkin_enabled": settings.FOLLOW_UP_CHECKIN_ENABLED,
        "csrf_token": context.get("csrf_token"),
        "request": context["request"],
    }
