"""The profile rules (客户画像), vectorised: pure functions from a frame of per-customer aggregates
to scores — no database here. ``analytics.engine`` feeds them the aggregates of every customer
(bulk) or of a few (incremental), in chunks; so one rule has one implementation.

Time as the seed counts it: a purchase happens at 00:00 (company time zone) of its contract's
signed date; "days since" is elapsed time in days, fractional (30 days and one second is more
than 30), measured from the recompute's ``computed_at``. The aggregates arrive as elapsed seconds.

Input columns (one row per customer): ``purchase_count``, ``purchase_total_fen``,
``since_last_purchase_s`` / ``since_first_purchase_s`` (NaN without purchases),
``since_contact_s`` (latest follow-up, or creation), ``tenure_s``, ``follow_ups_90``,
``purchases_180``, ``has_email`` / ``has_call`` / ``has_meeting``."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils.translation import gettext_noop

DAY_SECONDS = 86_400.0
MONTH_DAYS = 30.0  # the seed's month: "purchases per month" divides the days by 30

PROSPECT_MAX_CONTACT_DAYS = 30
NEW_MAX_CONTACT_DAYS = 60
LOST_MIN_CONTACT_DAYS = 180
# The seed's churn rule: no contact > 90 days +0.3, > 180 days +0.3, no purchase > 180 days (or
# never) +0.4 — in tenths, so the sums are exact.
CHURN_CONTACT_DAYS = (90, 180)
CHURN_PURCHASE_DAYS = 180
HIGH_RISK = 0.7

# The seed's recommended actions per lifecycle stage, and the two added above HIGH_RISK. Stored
# as data (Chinese, as in the seed); pages translate them for display.
ACTIONS = {
    "prospect": [gettext_noop("安排产品演示"), gettext_noop("发送欢迎邮件"), gettext_noop("电话跟进需求")],
    "new": [gettext_noop("客户满意度调研"), gettext_noop("推荐相关产品"), gettext_noop("建立定期联系")],
    "active": [gettext_noop("推荐升级服务"), gettext_noop("邀请参加活动"), gettext_noop("收集反馈意见")],
    "loyal": [gettext_noop("VIP专属服务"), gettext_noop("推荐给朋友奖励"), gettext_noop("新产品优先体验")],
    "at_risk": [gettext_noop("紧急联系挽回"), gettext_noop("提供特别优惠"), gettext_noop("了解不满原因")],
    "lost": [gettext_noop("重新激活营销"), gettext_noop("问卷调研流失原因"), gettext_noop("特价回归活动")],
}
HIGH_RISK_ACTIONS = [gettext_noop("高优先级跟进"), gettext_noop("客户关怀电话")]
# Preferred channels from follow-up types, in the seed's order; a visit (拜访) is face to face too.
CHANNELS = [gettext_noop("邮件沟通"), gettext_noop("电话沟通"), gettext_noop("面对面会议")]

# What an auto-tag rule may test, and how.
TAG_FIELDS = (
    "recency",
    "frequency",
    "monetary",
    "lifecycle",
    "churn_risk",
    "predicted_value",
    "clv",
    "purchase_count",
    "purchase_total",
)
TAG_OPS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}

# The churn model's inputs, computed the same way for training (as of a past cut-off) and scoring.
FEATURES = (
    "has_purchase",
    "log_days_since_purchase",
    "log_purchases",
    "log_total",
    "log_days_since_contact",
    "log_follow_ups_90",
    "log_purchases_180",
    "log_tenure_days",
)


@dataclass
class Params:
    """Everything a recompute scores with (from ``AnalyticsSettings``)."""

    recency_days_step: float = 30
    frequency_step: float = 2
    monetary_step_fen: float = 100_000
    quantile: bool = False
    quantile_breaks: dict = field(default_factory=dict)
    clv_horizon_years: int = 3
    clv_discount_rate: float = 0.10
    churn_model: dict | None = None
    tag_rules: list = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings):
        return cls(
            recency_days_step=float(settings.recency_days_step),
            frequency_step=float(settings.frequency_step),
            monetary_step_fen=float(settings.monetary_step) * 100,
            quantile=settings.scoring_mode == "quantile" and bool(settings.quantile_breaks),
            quantile_breaks=settings.quantile_breaks or {},
            clv_horizon_years=settings.clv_horizon_years,
            clv_discount_rate=float(settings.clv_discount_rate),
            churn_model=settings.churn_model or None,
            tag_rules=list(settings.tag_rules or []),
        )

    @property
    def clv_factor(self):
        """Σ 1/(1+d)^t for t = 1 … horizon (years): CLV = Σ R_t/(1+d)^t with R_t = the predicted
        12-month value."""
        d = self.clv_discount_rate
        return sum(1 / (1 + d) ** t for t in range(1, self.clv_horizon_years + 1))


def _clamp_score(values):
    return np.clip(values, 1, 5).astype(np.int16)


def rfm(frame, params):
    """RFM 1–5 each; 0/0/0 without purchases. Threshold mode (the seed's rules with configurable
    steps) or quantile mode (quintiles of the company's buyers, breakpoints from the last bulk run)."""
    count = frame["purchase_count"].to_numpy(dtype=np.float64)
    total = frame["purchase_total_fen"].to_numpy(dtype=np.float64)
    days = frame["since_last_purchase_s"].to_numpy(dtype=np.float64) / DAY_SECONDS
    buyer = count > 0
    days = np.where(buyer, days, 0.0)
    if params.quantile:
        breaks = params.quantile_breaks
        # Fewer days since the last purchase is better: 5 below every breakpoint, minus one per
        # breakpoint passed; more purchases / more money is better.
        recency = 5 - np.searchsorted(np.asarray(breaks["recency"], dtype=np.float64), days, side="left")
        frequency = 1 + np.searchsorted(np.asarray(breaks["frequency"], dtype=np.float64), count, side="left")
        monetary = 1 + np.searchsorted(np.asarray(breaks["monetary"], dtype=np.float64), total, side="left")
        recency, frequency, monetary = _clamp_score(recency), _clamp_score(frequency), _clamp_score(monetary)
    else:
        recency = _clamp_score(6 - np.floor(days / params.recency_days_step))
        frequency = _clamp_score(np.floor(count / params.frequency_step) + 1)
        monetary = _clamp_score(np.floor(total / params.monetary_step_fen) + 1)
    zero = np.int16(0)
    return np.where(buyer, recency, zero), np.where(buyer, frequency, zero), np.where(buyer, monetary, zero)


def lifecycle(frame, recency, frequency, monetary):
    """The seed's stages with the issue's corrections: loyal is tested before active (in the
    seed's order it is unreachable), and a customer without a purchase is never active —
    prospect, or lost after 180 days without contact."""
    count = frame["purchase_count"].to_numpy()
    contact_days = frame["since_contact_s"].to_numpy(dtype=np.float64) / DAY_SECONDS
    buyer = count > 0
    conditions = [
        ~buyer & (contact_days > LOST_MIN_CONTACT_DAYS),
        ~buyer,
        (count == 1) & (contact_days <= NEW_MAX_CONTACT_DAYS),
        (recency >= 4) & (frequency >= 4) & (monetary >= 4),
        (recency >= 4) & (frequency >= 3),
        (recency <= 2) & (frequency >= 2),
        (recency <= 1) & (contact_days > LOST_MIN_CONTACT_DAYS),
    ]
    choices = ["lost", "prospect", "new", "loyal", "active", "at_risk", "lost"]
    return np.select(conditions, choices, default="active")


def predicted_value_fen(frame):
    """Average order value × purchases per month since the first purchase (at least one month) ×
    12 = total / max(1, months) × 12; whole fen, half up. 0 without purchases."""
    total = frame["purchase_total_fen"].to_numpy(dtype=np.float64)
    months = np.nan_to_num(frame["since_first_purchase_s"].to_numpy(dtype=np.float64)) / DAY_SECONDS / MONTH_DAYS
    value = total / np.maximum(1.0, months) * 12
    return np.floor(value + 0.5).astype(np.int64)


def clv_fen(predicted_fen, params):
    return np.floor(predicted_fen.astype(np.float64) * params.clv_factor + 0.5).astype(np.int64)


def churn_rule(frame):
    """The seed's rule, 0–1 in tenths."""
    count = frame["purchase_count"].to_numpy()
    contact_days = frame["since_contact_s"].to_numpy(dtype=np.float64) / DAY_SECONDS
    purchase_days = frame["since_last_purchase_s"].to_numpy(dtype=np.float64) / DAY_SECONDS
    tenths = (
        3 * (contact_days > CHURN_CONTACT_DAYS[0])
        + 3 * (contact_days > CHURN_CONTACT_DAYS[1])
        + 4 * ((count == 0) | (np.nan_to_num(purchase_days) > CHURN_PURCHASE_DAYS))
    )
    return np.minimum(tenths, 10) / 10.0


def churn_features(frame):
    """The model's inputs (``FEATURES``) as a float matrix; the same for training and scoring."""
    count = frame["purchase_count"].to_numpy(dtype=np.float64)
    buyer = count > 0
    tenure = np.maximum(frame["tenure_s"].to_numpy(dtype=np.float64) / DAY_SECONDS, 0.0)
    purchase_days = np.where(
        buyer, np.nan_to_num(frame["since_last_purchase_s"].to_numpy(dtype=np.float64)) / DAY_SECONDS, tenure
    )
    contact_days = frame["since_contact_s"].to_numpy(dtype=np.float64) / DAY_SECONDS
    return np.column_stack(
        [
            buyer.astype(np.float64),
            np.log1p(np.maximum(purchase_days, 0.0)),
            np.log1p(count),
            np.log1p(frame["purchase_total_fen"].to_numpy(dtype=np.float64) / 100.0),
            np.log1p(np.maximum(contact_days, 0.0)),
            np.log1p(frame["follow_ups_90"].to_numpy(dtype=np.float64)),
            np.log1p(frame["purchases_180"].to_numpy(dtype=np.float64)),
            np.log1p(tenure),
        ]
    )


def churn_model_score(frame, model):
    """P(churn) from the stored logistic regression (standardised features, coefficients)."""
    features = churn_features(frame)
    scaled = (features - np.asarray(model["mean"])) / np.asarray(model["scale"])
    logit = scaled @ np.asarray(model["coef"]) + float(model["intercept"])
    return 1.0 / (1.0 + np.exp(-logit))


def _array_literal(items):
    # Elements are plain words (validated: no quotes, commas, braces, backslashes or spaces).
    return "{" + ",".join(items) + "}"


STAGES = list(ACTIONS)
# Index: stage's position × 2 + (risk above HIGH_RISK).
_ACTION_LITERALS = np.array(
    [
        _array_literal(ACTIONS[stage] + (HIGH_RISK_ACTIONS if high else []))
        for stage in STAGES
        for high in (False, True)
    ],
    dtype=object,
)
_CHANNEL_LITERALS = np.array(
    [_array_literal([name for bit, name in zip((4, 2, 1), CHANNELS, strict=True) if code & bit]) for code in range(8)],
    dtype=object,
)


def score(frame, params):
    """The profile of every row of ``frame``: a frame of what the writer stores (money in fen,
    arrays as PostgreSQL literals), index and order as the input."""
    recency, frequency, monetary = rfm(frame, params)
    stage = lifecycle(frame, recency, frequency, monetary)
    predicted = predicted_value_fen(frame)
    clv = clv_fen(predicted, params)
    if params.churn_model:
        risk = np.round(churn_model_score(frame, params.churn_model), 4)
        source = "model"
    else:
        risk = churn_rule(frame)
        source = "rule"
    high = risk > HIGH_RISK
    stage_index = pd.Categorical(stage, categories=STAGES).codes.astype(np.int64)
    actions = _ACTION_LITERALS[stage_index * 2 + high.astype(np.int64)]
    channel_code = (
        4 * frame["has_email"].fillna(False).astype(bool).to_numpy()
        + 2 * frame["has_call"].fillna(False).astype(bool).to_numpy()
        + frame["has_meeting"].fillna(False).astype(bool).to_numpy()
    )
    result = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "recency": recency,
            "frequency": frequency,
            "monetary": monetary,
            "lifecycle": stage,
            "predicted_fen": predicted,
            "clv_fen": clv,
            "churn_risk": risk,
            "churn_source": source,
            "channels": _CHANNEL_LITERALS[channel_code],
            "actions": actions,
        },
        index=frame.index,
    )
    result["tags"] = auto_tags(frame, result, params.tag_rules)
    return result


def auto_tags(frame, scored, rules):
    """The tags each row earns from ``rules`` ([{tag, field, op, value}], in order), as literals."""
    values = {
        "recency": scored["recency"],
        "frequency": scored["frequency"],
        "monetary": scored["monetary"],
        "lifecycle": scored["lifecycle"],
        "churn_risk": scored["churn_risk"],
        "predicted_value": scored["predicted_fen"] / 100.0,
        "clv": scored["clv_fen"] / 100.0,
        "purchase_count": frame["purchase_count"],
        "purchase_total": frame["purchase_total_fen"] / 100.0,
    }
    tags = pd.Series("", index=frame.index, dtype=object)
    for rule in rules:
        column = values[rule["field"]]
        value = rule["value"] if rule["field"] == "lifecycle" else float(rule["value"])
        mask = TAG_OPS[rule["op"]](column.to_numpy(), value)
        tags = tags.where(~mask, tags + "," + rule["tag"])
    return ("{" + tags.str.lstrip(",") + "}").to_numpy()
