"""The churn model: trained on the company's own history when there is enough of it (hold-out AUC
stored and shown), the seed's rule otherwise; features as of the cut-off only."""

import random
from decimal import Decimal

import numpy as np
import pytest

from activities.models import FollowUp
from analytics import engine, rules, services
from analytics.models import AnalyticsSettings, CustomerProfile
from analytics.tests.helpers import AS_OF, buy, contact, customer, days
from contracts.models import Contract, ContractStatus
from customers.models import Customer

pytestmark = pytest.mark.django_db

CUTOFF = AS_OF - engine.CHURN_WINDOW


def _bulk_customers(count):
    made = Customer.objects.bulk_create([Customer(name=f"历史客户{n}", name_key=f"历史客户{n}") for n in range(count)])
    Customer.objects.filter(pk__in=[c.pk for c in made]).update(created_at=AS_OF - days(700))
    return made


def _known_signal_history(count=400, noise=0.1, seed=5):
    """Half the customers stay engaged up to the cut-off (follow-ups every few weeks, purchases)
    and go on afterwards; the other half drifted away long before it and do nothing after. A
    tenth of each group does the opposite after the cut-off (noise)."""
    rng = random.Random(seed)
    follow_ups, contracts = [], []
    engaged = {}
    for n, someone in enumerate(_bulk_customers(count)):
        is_engaged = n % 2 == 0
        engaged[someone.pk] = is_engaged
        if is_engaged:
            last = CUTOFF - days(rng.randint(0, 20))
            follow_ups += [FollowUp(customer=someone, occurred_at=last - days(25 * k), type="call") for k in range(6)]
            contracts.append((someone, (CUTOFF - days(rng.randint(5, 60))).date()))
        else:
            last = CUTOFF - days(rng.randint(150, 400))
            follow_ups.append(FollowUp(customer=someone, occurred_at=last, type="email"))
        acts_after = is_engaged != (rng.random() < noise)
        if acts_after:
            follow_ups.append(FollowUp(customer=someone, occurred_at=CUTOFF + days(rng.randint(1, 170)), type="call"))
    FollowUp.objects.bulk_create(follow_ups)
    Contract.objects.bulk_create(
        [
            Contract(
                number=f"HIST{n:06d}",
                title="历史合同",
                customer=someone,
                total=Decimal("3000.00"),
                status=ContractStatus.COMPLETED,
                signed_date=on,
            )
            for n, (someone, on) in enumerate(contracts)
        ]
    )
    return engaged


def _min_labelled(value):
    AnalyticsSettings.load()
    AnalyticsSettings.objects.filter(pk=1).update(churn_model_min_labelled=value)


def test_the_model_learns_a_known_signal_and_scores_with_it():
    engaged = _known_signal_history()
    _min_labelled(200)

    auc = services.churn_model_train(now=AS_OF)

    settings = AnalyticsSettings.load()
    assert auc is not None and auc > 0.8, auc
    assert settings.churn_model_auc == auc
    assert settings.churn_model_trained_at == AS_OF
    assert settings.churn_model_samples == 400
    assert settings.churn_model["features"] == list(rules.FEATURES)

    services.profiles_recompute_all(train=False, now=AS_OF)
    profiles = {p.customer_id: p for p in CustomerProfile.objects.all()}
    assert {p.churn_source for p in profiles.values()} == {"model"}
    risk_engaged = np.mean([float(p.churn_risk) for pk, p in profiles.items() if engaged[pk]])
    risk_drifted = np.mean([float(p.churn_risk) for pk, p in profiles.items() if not engaged[pk]])
    assert risk_drifted > risk_engaged + 0.3, (risk_drifted, risk_engaged)
    assert all(0 <= p.churn_risk <= 1 for p in profiles.values())


def test_the_nightly_run_trains_then_scores():
    _known_signal_history(count=200)
    _min_labelled(100)
    services.profiles_recompute_all(now=AS_OF)
    assert AnalyticsSettings.load().churn_model_auc > 0.8
    assert set(CustomerProfile.objects.values_list("churn_source", flat=True)) == {"model"}


def test_scarce_history_falls_back_to_the_rule():
    _known_signal_history(count=60)  # default minimum: 1,000 labelled customers
    services.profiles_recompute_all(now=AS_OF)
    settings = AnalyticsSettings.load()
    assert (settings.churn_model, settings.churn_model_auc, settings.churn_model_trained_at) == (None, None, None)
    assert settings.churn_model_samples == 60
    assert set(CustomerProfile.objects.values_list("churn_source", flat=True)) == {"rule"}


def test_one_sided_history_falls_back_to_the_rule():
    _bulk_customers(150)  # nobody ever did anything: every one churned
    _min_labelled(20)
    assert services.churn_model_train(now=AS_OF) is None
    assert AnalyticsSettings.load().churn_model is None


def test_a_model_is_dropped_when_the_history_no_longer_supports_it():
    _known_signal_history(count=200)
    _min_labelled(100)
    services.churn_model_train(now=AS_OF)
    assert AnalyticsSettings.load().churn_model is not None
    _min_labelled(1000)
    services.churn_model_train(now=AS_OF)
    assert AnalyticsSettings.load().churn_model is None


def test_features_are_as_of_the_cutoff_and_the_label_is_what_came_after():
    late = customer(created=AS_OF - days(400))  # active only after the cut-off
    buy(late, on=(CUTOFF + days(10)).date(), total="9000.00")
    contact(late, at=CUTOFF + days(20), type="email")
    early = customer(created=AS_OF - days(400))  # active only before it
    buy(early, on=(CUTOFF - days(10)).date(), total="100.00")
    customer(created=CUTOFF + days(1))  # too young: its outcome window is not over

    features, churned = engine.training_set(now=AS_OF)

    assert len(churned) == 2
    by_purchase = dict(zip(features[:, 0].tolist(), churned.tolist(), strict=True))
    # The late customer looks like a customer who never bought, and did not churn.
    assert by_purchase == {0.0: False, 1.0: True}
    late_row = features[features[:, 0] == 0][0]
    names = list(rules.FEATURES)
    assert late_row[names.index("log_total")] == 0
    assert late_row[names.index("log_follow_ups_90")] == 0
    # Days since contact = since its creation (220 days before the cut-off), not the later e-mail.
    assert late_row[names.index("log_days_since_contact")] == pytest.approx(np.log1p(220), rel=1e-6)


def test_a_model_no_better_than_chance_is_not_used():
    # Everybody looks the same at the cut-off; half of them (at random) come back afterwards.
    rng = random.Random(1)
    made = _bulk_customers(300)
    FollowUp.objects.bulk_create(
        [FollowUp(customer=c, occurred_at=CUTOFF + days(30), type="call") for c in made if rng.random() < 0.5]
    )
    _min_labelled(100)

    auc = services.churn_model_train(now=AS_OF)

    settings = AnalyticsSettings.load()
    assert auc is not None and auc < engine.MIN_AUC
    assert (settings.churn_model, settings.churn_model_auc) == (None, auc)
    services.profiles_recompute_all(train=False, now=AS_OF)
    assert set(CustomerProfile.objects.values_list("churn_source", flat=True)) == {"rule"}
