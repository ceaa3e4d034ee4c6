import factory

from customers.tests.factories import CustomerFactory
from opportunities import services
from opportunities.models import LostReason, Opportunity, Stage, StageGroup, StageHistory


def stage(code):
    """A stage of the default pipeline by code (lead, opportunity, proposal, negotiation, won,
    lost, invalid); the pipeline is created again if a transactional test flushed it."""
    group = services.stage_group_ensure_default()
    return Stage.objects.get(group=group, code=code)


class LostReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LostReason
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"原因{n}")


class StageGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageGroup

    name = factory.Sequence(lambda n: f"阶段组{n}")


class OpportunityFactory(factory.django.DjangoModelFactory):
    """A deal written straight to the table (with its first history row), owner/department as
    given — for tests that need many rows. Write rules are tested through the services."""

    class Meta:
        model = Opportunity
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"商机{n}")
    amount = 1000
    owner = None
    department = factory.LazyAttribute(lambda o: o.owner.department if o.owner else None)
    customer = factory.LazyAttribute(lambda o: CustomerFactory(owner=o.owner, department=o.department))
    stage = factory.LazyFunction(lambda: stage("proposal"))
    probability = factory.LazyAttribute(lambda o: o.stage.probability)

    @factory.post_generation
    def history(self, create, extracted, **kwargs):
        if create and extracted is not False:
            StageHistory.objects.create(opportunity=self, from_stage=None, to_stage=self.stage, changed_by=self.owner)
