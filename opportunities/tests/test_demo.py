import pytest
from django.core.management import call_command
from django.db.models import Count

from opportunities.models import Opportunity, StageHistory, StageKind

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_deals_across_stages_with_their_history(capsys):
    call_command("seed_demo")
    deals = Opportunity.objects.all()
    assert deals.count() >= 20
    assert set(deals.values_list("stage__kind", flat=True)) >= {StageKind.OPEN, StageKind.WON, StageKind.LOST}
    # every deal has its first row and one per move; lost ones carry a reason
    assert not deals.annotate(rows=Count("stage_history")).filter(rows=0).exists()
    assert StageHistory.objects.filter(from_stage__isnull=False).exists()
    assert not deals.filter(stage__kind=StageKind.LOST, lost_reason__isnull=True).exists()
    assert not deals.exclude(owner_id__in=deals.values("customer__owner_id")).exists()
