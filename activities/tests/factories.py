from datetime import timedelta

import factory
from django.utils import timezone

from activities.models import FollowUp, Task
from customers.tests.factories import CustomerFactory


class FollowUpFactory(factory.django.DjangoModelFactory):
    """A follow-up row straight in the table (lists, scope); rules are tested through the service."""

    class Meta:
        model = FollowUp

    customer = factory.SubFactory(CustomerFactory)
    type = "call"
    content = factory.Sequence(lambda n: f"跟进内容{n}")
    occurred_at = factory.LazyFunction(timezone.now)
    created_by = factory.LazyAttribute(lambda o: o.customer.owner)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"待办{n}")
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    customer = None
    created_by = factory.LazyAttribute(lambda o: o.assignee)
