"""Each profile rule at its boundaries, through the real recompute (SQL aggregate → pandas rules →
upsert) on histories whose times are exact to the second."""

from decimal import Decimal

import pytest

from analytics import rules, services
from analytics.models import AnalyticsSettings
from analytics.tests.helpers import AS_OF, buy, contact, customer, days, midnight, profile
from contracts.models import ContractStatus
from crm.errors import DomainError

pytestmark = pytest.mark.django_db

SIGNED = (AS_OF - days(400)).date()


# --- RFM --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "recency"),
    [
        (days(0), 5),
        (days(29), 5),
        (days(30), 5),
        (days(31), 5),
        (days(59, 86_399), 5),  # 59 days 23:59:59
        (days(60), 4),  # exactly 60: ⌊60/30⌋ = 2 → 6 − 2
        (days(60, 1), 4),
        (days(89, 86_399), 4),
        (days(90), 3),
        (days(119, 86_399), 3),
        (days(120), 2),
        (days(149, 86_399), 2),
        (days(150), 1),
        (days(151), 1),
        (days(365), 1),
    ],
)
def test_recency_steps_every_30_days_counted_to_the_second(elapsed, recency):
    buyer = customer()
    buy(buyer, on=SIGNED)
    assert profile(buyer, as_of=midnight(SIGNED) + elapsed).recency == recency


@pytest.mark.parametrize(("purchases", "frequency"), [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (7, 4), (8, 5), (9, 5)])
def test_frequency_is_half_the_purchases_plus_one(purchases, frequency):
    buyer = customer()
    for n in range(purchases):
        buy(buyer, on=(AS_OF - days(10 + n)).date(), total="100.00")
    assert profile(buyer).frequency == frequency


@pytest.mark.parametrize(
    ("total", "monetary"),
    [
        ("0.00", 1),
        ("999.00", 1),
        ("999.99", 1),
        ("1000.00", 2),
        ("1000.01", 2),
        ("1001.00", 2),
        ("1999.99", 2),
        ("2000.00", 3),
        ("3999.99", 4),
        ("4000.00", 5),
        ("999999.00", 5),
    ],
)
def test_monetary_steps_every_1000_yuan_to_the_fen(total, monetary):
    buyer = customer()
    buy(buyer, on=(AS_OF - days(5)).date(), total=total)
    result = profile(buyer)
    assert result.monetary == monetary
    assert result.purchase_total == Decimal(total)


def test_no_purchase_scores_zero_zero_zero():
    result = profile(customer())
    assert (result.recency, result.frequency, result.monetary) == (0, 0, 0)
    assert (result.purchase_count, result.purchase_total, result.last_purchase_at) == (0, 0, None)


def test_only_approved_or_later_contracts_are_purchases():
    buyer = customer()
    on = (AS_OF - days(5)).date()
    for status in ContractStatus.values:
        buy(buyer, on=on, total="100.00", status=status)
    result = profile(buyer)
    assert result.purchase_count == 5  # approved, active, completed, expired, terminated
    assert result.purchase_total == Decimal("500.00")


def test_a_purchase_signed_after_the_computation_is_not_counted_yet():
    buyer = customer()
    buy(buyer, on=AS_OF.date())  # 00:00 of that day = AS_OF: counted
    buy(buyer, on=(AS_OF + days(1)).date())
    result = profile(buyer)
    assert result.purchase_count == 1
    assert result.last_purchase_at == AS_OF


def test_thresholds_are_configurable():
    AnalyticsSettings.load()
    AnalyticsSettings.objects.filter(pk=1).update(recency_days_step=10, frequency_step=1, monetary_step=500)
    buyer = customer()
    buy(buyer, on=(AS_OF - days(20)).date(), total="600.00")
    buy(buyer, on=(AS_OF - days(25)).date(), total="600.00")
    result = profile(buyer)
    # recency 6 − ⌊20/10⌋ = 4; frequency ⌊2/1⌋ + 1 = 3; monetary ⌊1200/500⌋ + 1 = 3
    assert (result.recency, result.frequency, result.monetary) == (4, 3, 3)


# --- churn risk (the seed's rule) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since_contact", "risk"),
    [
        (days(90), Decimal("0")),
        (days(90, 1), Decimal("0.3")),
        (days(180), Decimal("0.3")),
        (days(180, 1), Decimal("0.6")),
    ],
)
def test_churn_rule_contact_steps_at_90_and_180_days(since_contact, risk):
    buyer = customer()
    buy(buyer, on=(AS_OF - days(10)).date())
    contact(buyer, at=AS_OF - since_contact)
    result = profile(buyer)
    assert (result.churn_risk, result.churn_source) == (risk, "rule")


@pytest.mark.parametrize(
    ("since_purchase", "risk"), [(days(180), Decimal("0")), (days(180, 1), Decimal("0.4")), (None, Decimal("0.4"))]
)
def test_churn_rule_no_purchase_for_180_days_or_never(since_purchase, risk):
    someone = customer()
    if since_purchase is not None:
        signed = (AS_OF - days(200)).date()
        buy(someone, on=signed)
        as_of = midnight(signed) + since_purchase
    else:
        as_of = AS_OF
    contact(someone, at=as_of - days(1))
    assert profile(someone, as_of=as_of).churn_risk == risk


def test_churn_rule_adds_up_to_one():
    someone = customer()  # never bought, last contact (creation) 1,000 days ago
    result = profile(someone)
    assert result.churn_risk == Decimal("1")
    assert result.recommended_actions[-2:] == ["高优先级跟进", "客户关怀电话"]


# --- lifecycle ---------------------------------------------------------------------------------------


ONE_DAY = days(1)


def _history(*, purchases, total="100.00", last_purchase_days=5, contact_ago=ONE_DAY):
    someone = customer()
    for n in range(purchases):
        buy(someone, on=(AS_OF - days(last_purchase_days + n)).date(), total=total)
    contact(someone, at=AS_OF - contact_ago)
    return someone


@pytest.mark.parametrize(
    ("history", "stage"),
    [
        # no purchase: prospect, lost after 180 days without contact (never active)
        ({"purchases": 0, "contact_ago": days(1)}, "prospect"),
        ({"purchases": 0, "contact_ago": days(31)}, "prospect"),
        ({"purchases": 0, "contact_ago": days(180)}, "prospect"),
        ({"purchases": 0, "contact_ago": days(180, 1)}, "lost"),
        # one purchase, contacted within 60 days: new
        ({"purchases": 1, "contact_ago": days(60)}, "new"),
        ({"purchases": 1, "contact_ago": days(60, 1)}, "active"),  # the seed's fallback
        # R ≥ 4, F ≥ 4, M ≥ 4: loyal (tested before active)
        ({"purchases": 6, "total": "500.00", "contact_ago": days(1)}, "loyal"),
        # R ≥ 4, F ≥ 3: active (M = 3 is not loyal)
        ({"purchases": 6, "total": "400.00", "contact_ago": days(1)}, "active"),
        ({"purchases": 4, "total": "100.00", "contact_ago": days(1)}, "active"),
        # R ≤ 2, F ≥ 2: at risk
        ({"purchases": 2, "last_purchase_days": 120, "contact_ago": days(1)}, "at_risk"),
        ({"purchases": 2, "last_purchase_days": 119, "contact_ago": days(1)}, "active"),  # R = 3
        # R ≤ 1 and no contact for more than 180 days: lost
        ({"purchases": 1, "last_purchase_days": 200, "contact_ago": days(180, 1)}, "lost"),
        ({"purchases": 1, "last_purchase_days": 200, "contact_ago": days(180)}, "active"),
    ],
)
def test_lifecycle_stages(history, stage):
    result = profile(_history(**history))
    assert result.lifecycle == stage
    assert result.recommended_actions[:3] == rules.ACTIONS[stage]


def test_loyal_customer_scores_and_actions():
    result = profile(_history(purchases=6, total="500.00"))
    assert (result.recency, result.frequency, result.monetary) == (5, 4, 4)
    assert result.recommended_actions == ["VIP专属服务", "推荐给朋友奖励", "新产品优先体验"]


def test_last_contact_is_the_latest_follow_up_or_the_creation():
    quiet = customer(created=AS_OF - days(10))
    assert profile(quiet).last_contact_at == AS_OF - days(10)
    contact(quiet, at=AS_OF - days(3))
    contact(quiet, at=AS_OF - days(5))
    assert profile(quiet).last_contact_at == AS_OF - days(3)


# --- predicted value and CLV -------------------------------------------------------------------------


def test_predicted_value_hand_worked():
    # Three purchases, 6,000.00 in all, the first 90 days ago: AOV 2,000 × (3 / 3 months) × 12.
    buyer = customer()
    for n, total in ((90, "1000.00"), (60, "2000.00"), (30, "3000.00")):
        buy(buyer, on=(AS_OF - days(n)).date(), total=total)
    result = profile(buyer)
    assert result.predicted_value == Decimal("24000.00")
    # CLV over 3 years at 10 %: 24000/1.1 + 24000/1.21 + 24000/1.331 = 59,684.447… → 59,684.45
    assert result.clv == Decimal("59684.45")


def test_predicted_value_counts_at_least_one_month():
    # One purchase of 1,000.00 ten days ago: 1,000 × (1 / max(1, ⅓)) × 12.
    buyer = customer()
    buy(buyer, on=(AS_OF - days(10)).date(), total="1000.00")
    assert profile(buyer).predicted_value == Decimal("12000.00")


def test_predicted_value_fractional_months():
    # 500 + 1,500 with the first 45 days ago (1.5 months): 2,000 / 1.5 × 12.
    buyer = customer()
    buy(buyer, on=(AS_OF - days(45)).date(), total="500.00")
    buy(buyer, on=(AS_OF - days(1)).date(), total="1500.00")
    assert profile(buyer).predicted_value == Decimal("16000.00")


def test_clv_horizon_and_discount_are_configurable():
    AnalyticsSettings.load()
    AnalyticsSettings.objects.filter(pk=1).update(clv_horizon_years=2, clv_discount_rate=Decimal("0.05"))
    buyer = customer()
    buy(buyer, on=(AS_OF - days(10)).date(), total="1000.00")  # predicted 12,000.00
    # 12000/1.05 + 12000/1.1025 = 11,428.571… + 10,884.353… = 22,312.925… → 22,312.93
    assert profile(buyer).clv == Decimal("22312.93")


def test_no_purchase_predicts_nothing():
    result = profile(customer())
    assert (result.predicted_value, result.clv) == (0, 0)


# --- preferences, actions, auto-tags ----------------------------------------------------------------


def test_preferences_top_three_categories_by_lines_ties_to_the_first_bought_then_channels():
    buyer = customer()
    buy(buyer, on=(AS_OF - days(50)).date(), categories=["硬件", "服务"])
    buy(buyer, on=(AS_OF - days(40)).date(), categories=["软件", "软件", "培训"])
    buy(buyer, on=(AS_OF - days(30)).date(), categories=["培训", "耗材", ""])
    buy(buyer, on=(AS_OF - days(20)).date(), categories=["耗材"], status=ContractStatus.VOID)  # not a purchase
    contact(buyer, at=AS_OF - days(3), type="visit")
    contact(buyer, at=AS_OF - days(2), type="email")
    contact(buyer, at=AS_OF - days(1), type="wechat")
    # 软件 2 lines and 培训 2, first bought the same day: the earlier line wins; then 硬件 and 服务
    # (1 line each, bought first, on day 50: the earlier line wins) before 耗材 (day 30).
    assert profile(buyer).preferences == ["软件", "培训", "硬件", "邮件沟通", "面对面会议"]


def test_preferences_channels_in_the_seed_order():
    someone = customer()
    for kind in ("meeting", "call", "email"):
        contact(someone, at=AS_OF - days(1), type=kind)
    assert profile(someone).preferences == ["邮件沟通", "电话沟通", "面对面会议"]


def test_high_churn_risk_adds_two_actions_only_above_0_7():
    buyer = customer()
    buy(buyer, on=(AS_OF - days(10)).date())
    contact(buyer, at=AS_OF - days(181))  # 0.6: not above 0.7
    assert "高优先级跟进" not in profile(buyer).recommended_actions


def test_auto_tags_follow_the_rules_and_the_profile():
    big = customer()
    buy(big, on=(AS_OF - days(5)).date(), total="5000.00")
    contact(big, at=AS_OF - days(1))
    assert profile(big).tags == ["高价值"]
    gone = customer()  # never bought, no contact for 1,000 days
    assert profile(gone).tags == ["流失风险"]
    # The rules change: the tags follow at the next recompute.
    settings = AnalyticsSettings.load()
    settings.tag_rules = [{"tag": "大客户", "field": "purchase_total", "op": ">=", "value": 5000}]
    settings.save()
    assert profile(big).tags == ["大客户"]
    assert profile(gone).tags == []


@pytest.mark.parametrize(
    "rules_value",
    [
        {"tag": "x"},
        [{"tag": "x", "field": "name", "op": ">", "value": 1}],
        [{"tag": "x", "field": "monetary", "op": "~", "value": 1}],
        [{"tag": "a,b", "field": "monetary", "op": ">", "value": 1}],
        [{"tag": "x", "field": "monetary", "op": ">", "value": "many"}],
        [{"tag": "x", "field": "lifecycle", "op": ">", "value": "loyal"}],
        [{"tag": "x", "field": "lifecycle", "op": "==", "value": "vip"}],
        [{"tag": "x", "field": "monetary", "op": ">", "value": 1, "extra": 1}],
    ],
)
def test_bad_auto_tag_rules_are_refused(rules_value):
    with pytest.raises(DomainError) as error:
        services.tag_rules_validate(rules_value)
    assert "tag_rules" in error.value.fields


# --- quantile mode -------------------------------------------------------------------------------------


def test_quantile_mode_scores_against_the_companys_own_distribution():
    settings = AnalyticsSettings.load()
    settings.scoring_mode = "quantile"
    settings.save()
    buyers = []
    for n in range(10):
        buyer = customer()
        for k in range(n + 1):
            buy(buyer, on=(AS_OF - days(10 * (n + 1) + k)).date(), total=f"{(n + 1) * 10}.00")
        buyers.append(buyer)
    services.profiles_recompute_all(train=False, now=AS_OF)
    from analytics.models import CustomerProfile

    got = {p.customer_id: p for p in CustomerProfile.objects.filter(customer__in=buyers)}
    monetary = [got[b.pk].monetary for b in buyers]
    recency = [got[b.pk].recency for b in buyers]
    # Totals grow with n, and the last purchase gets older: the company's quintiles spread both.
    assert monetary == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert recency == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # With thresholds every one of these small totals would score 1.
    assert AnalyticsSettings.load().quantile_breaks["monetary"]
