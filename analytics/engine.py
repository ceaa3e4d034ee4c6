"""The recompute, in bulk or for a few customers — one code path (``recompute``), so a customer's
profile is the same whichever way it was computed:

1. one aggregate query (contracts that count as sales, their lines' product categories, follow-ups;
   grouped by customer) into a temporary table ``analytics_agg`` — with ``customer_ids`` the same
   query with each source filtered by customer (index lookups instead of scans);
2. its numeric columns read through a server-side cursor in chunks of ``CHUNK`` rows, each scored
   vectorised by ``analytics.rules`` and COPYed into a temporary table ``analytics_scored``;
3. one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` joining the two into the profile table.

Nothing is queried per customer; memory is bounded by the chunk, not by the number of customers.
The churn model is trained by ``churn_model_train`` from the same aggregate query as of a past
cut-off (features) and what happened after it (label)."""

import io
import logging
import tempfile
import time
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from analytics import rules
from contracts.models import SALES_STATUSES

logger = logging.getLogger(__name__)

# Rows per chunk read from the aggregate (≈ 15 numbers each: a few MB as Python tuples, less as
# a frame); large enough that per-chunk overhead (one FETCH, one COPY) is negligible.
CHUNK = 50_000
# The churn label's window: churned = no purchase and no follow-up in the 180 days after the cut-off.
CHURN_WINDOW = timedelta(days=180)
# Each class needs at least this many labelled customers before a model is worth training.
MIN_PER_CLASS = 10
# A model that ranks churners no better than this on the hold-out is not used (the rule is).
MIN_AUC = 0.6
# The aggregate's CSV is kept in memory up to this size (≈ 60 bytes a customer), then on disk.
SPOOL_BYTES = 64 * 1024 * 1024
# For the hash aggregates of the bulk query (5,000,000 lines): kept in memory instead of spilling.
WORK_MEM = "256MB"

# The numeric aggregates the rules read (the order of the SELECT from analytics_agg).
FRAME_COLUMNS = [
    "customer_id",
    "purchase_count",
    "purchase_total_fen",
    "since_last_purchase_s",
    "since_first_purchase_s",
    "since_contact_s",
    "tenure_s",
    "follow_ups_90",
    "purchases_180",
    "has_email",
    "has_call",
    "has_meeting",
]


def _aggregate_sql(*, filtered, categories, label):
    """The one-pass aggregate per customer, as of ``%(as_of)s`` (a purchase counts from 00:00 of
    its signed date in the company's time zone, so: signed_date <= the local date of as_of).
    ``filtered``: only ``%(ids)s``; ``categories``: the top 3 product categories; ``label``:
    whether anything happened in (as_of, label_until] (for training)."""
    by_customer = " AND customer_id = ANY(%(ids)s)" if filtered else ""
    by_contract_customer = " AND c.customer_id = ANY(%(ids)s)" if filtered else ""
    by_id = " AND cu.id = ANY(%(ids)s)" if filtered else ""
    category_join = category_select = ""
    if categories:
        # Top 3 by number of lines; ties: the category bought first (earliest signed date, then
        # the earliest line), then its name. (array_agg with ORDER BY and a slice: one sort of the
        # (customer, category) rows, no window over them.)
        category_select = ", cat.categories"
        category_join = f"""
        LEFT JOIN (
            SELECT customer_id,
                   (array_agg(category ORDER BY lines DESC, first_signed, first_line, category))[1:3] AS categories
            FROM (
                SELECT c.customer_id, pr.category, count(*) AS lines,
                       min(c.signed_date) AS first_signed, min(l.id) AS first_line
                FROM contracts_contractline l
                JOIN contracts_contract c ON c.id = l.contract_id
                JOIN contracts_product pr ON pr.id = l.product_id
                WHERE c.status = ANY(%(statuses)s) AND c.signed_date <= %(as_of_date)s
                  AND pr.category <> ''{by_contract_customer}
                GROUP BY c.customer_id, pr.category
            ) per_category
            GROUP BY customer_id
        ) cat ON cat.customer_id = cu.id"""
    label_select = label_join = ""
    if label:
        label_select = ", (active.customer_id IS NULL) AS churned"
        label_join = f"""
        LEFT JOIN (
            SELECT customer_id FROM contracts_contract
            WHERE status = ANY(%(statuses)s) AND signed_date > %(as_of_date)s
              AND signed_date <= %(label_until_date)s{by_customer}
            UNION
            SELECT customer_id FROM activities_followup
            WHERE occurred_at > %(as_of)s AND occurred_at <= %(label_until)s{by_customer}
        ) active ON active.customer_id = cu.id"""
    return f"""
        SELECT cu.id AS customer_id,
               cu.created_at,
               coalesce(p.purchase_count, 0) AS purchase_count,
               coalesce(p.purchase_total, 0) AS purchase_total,
               coalesce(p.purchase_total * 100, 0)::bigint AS purchase_total_fen,
               p.first_purchase_at,
               p.last_purchase_at,
               f.last_follow_up_at,
               extract(epoch FROM %(as_of)s - p.last_purchase_at)::float8 AS since_last_purchase_s,
               extract(epoch FROM %(as_of)s - p.first_purchase_at)::float8 AS since_first_purchase_s,
               extract(epoch FROM %(as_of)s - coalesce(f.last_follow_up_at, cu.created_at))::float8
                   AS since_contact_s,
               extract(epoch FROM %(as_of)s - cu.created_at)::float8 AS tenure_s,
               coalesce(f.follow_ups_90, 0) AS follow_ups_90,
               coalesce(p.purchases_180, 0) AS purchases_180,
               coalesce(f.has_email, false) AS has_email,
               coalesce(f.has_call, false) AS has_call,
               coalesce(f.has_meeting, false) AS has_meeting
               {category_select}{label_select}
        FROM customers_customer cu
        LEFT JOIN (
            SELECT customer_id,
                   count(*) AS purchase_count,
                   sum(total) AS purchase_total,
                   (min(signed_date)::timestamp AT TIME ZONE %(tz)s) AS first_purchase_at,
                   (max(signed_date)::timestamp AT TIME ZONE %(tz)s) AS last_purchase_at,
                   count(*) FILTER (WHERE signed_date > %(as_of_date)s - 180) AS purchases_180
            FROM contracts_contract
            WHERE status = ANY(%(statuses)s) AND signed_date <= %(as_of_date)s{by_customer}
            GROUP BY customer_id
        ) p ON p.customer_id = cu.id
        LEFT JOIN (
            SELECT customer_id,
                   max(occurred_at) AS last_follow_up_at,
                   count(*) FILTER (WHERE occurred_at > %(as_of)s - interval '90 days') AS follow_ups_90,
                   bool_or(type = 'email') AS has_email,
                   bool_or(type = 'call') AS has_call,
                   bool_or(type IN ('meeting', 'visit')) AS has_meeting
            FROM activities_followup
            WHERE occurred_at <= %(as_of)s{by_customer}
            GROUP BY customer_id
        ) f ON f.customer_id = cu.id
        {category_join}{label_join}
        WHERE cu.deleted_at IS NULL AND cu.created_at <= %(as_of)s{by_id}"""


def _params(*, as_of, ids=None, label_until=None):
    tz = timezone.get_default_timezone()
    params = {
        "as_of": as_of,
        "as_of_date": timezone.localtime(as_of, tz).date(),
        "tz": django_settings.TIME_ZONE,
        "statuses": [str(status) for status in SALES_STATUSES],
        "ids": list(ids) if ids is not None else None,
    }
    if label_until is not None:
        params["label_until"] = label_until
        params["label_until_date"] = timezone.localtime(label_until, tz).date()
    return params


def _build_aggregate(cursor, *, as_of, ids=None, categories=True, label_until=None):
    """(Re)create the temporary table analytics_agg; returns its row count."""
    cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    # JIT compiling this query's ~70 expressions costs more than it saves; the join of lines and
    # contracts is worth two workers even where the planner's default costs say no.
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET LOCAL parallel_setup_cost = 100")
    cursor.execute("SET LOCAL parallel_tuple_cost = 0.01")
    cursor.execute("DROP TABLE IF EXISTS analytics_agg")
    sql = _aggregate_sql(filtered=ids is not None, categories=categories, label=label_until is not None)
    cursor.execute(
        f"CREATE TEMPORARY TABLE analytics_agg ON COMMIT DROP AS {sql}",
        _params(as_of=as_of, ids=ids, label_until=label_until),
    )
    return cursor.rowcount


def _chunks(columns, *, ordered=False):
    """Frames of ``columns`` of analytics_agg, CHUNK rows at a time: COPYed out as CSV into a
    spooled file (memory up to SPOOL_BYTES, then disk), parsed by pandas chunk by chunk — so the
    connection is free for the chunks' COPY in, and memory is bounded by the chunk. ``ordered``:
    by customer, so that what depends on the rows' order (the model's train/test split) is the
    same on every run over the same data."""
    connection.ensure_connection()
    order = " ORDER BY customer_id" if ordered else ""
    query = f"COPY (SELECT {', '.join(columns)} FROM analytics_agg{order}) TO STDOUT (FORMAT csv)"
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        with connection.connection.cursor() as raw, raw.copy(query) as copy:
            for block in copy:
                spool.write(block)
        if not spool.tell():
            return
        spool.seek(0)
        yield from pd.read_csv(
            spool,
            names=columns,
            header=None,
            chunksize=CHUNK,
            true_values=["t"],
            false_values=["f"],
        )


SCORED_COLUMNS = [
    "customer_id",
    "recency",
    "frequency",
    "monetary",
    "lifecycle",
    "predicted_fen",
    "clv_fen",
    "churn_risk",
    "churn_source",
    "channels",
    "actions",
    "tags",
]


def _copy_scored(scored):
    buffer = io.StringIO()
    scored.to_csv(buffer, sep="\t", header=False, index=False, columns=SCORED_COLUMNS, float_format="%.4f")
    with (
        connection.connection.cursor() as raw,
        raw.copy(f"COPY analytics_scored ({', '.join(SCORED_COLUMNS)}) FROM STDIN") as copy,
    ):
        copy.write(buffer.getvalue())


WRITE_SQL = """
    INSERT INTO analytics_customerprofile (
        customer_id, recency, frequency, monetary, lifecycle, purchase_count, purchase_total,
        first_purchase_at, last_purchase_at, last_contact_at, predicted_value, clv, churn_risk,
        churn_source, preferences, recommended_actions, tags, computed_at)
    SELECT a.customer_id, s.recency, s.frequency, s.monetary, s.lifecycle, a.purchase_count, a.purchase_total,
           a.first_purchase_at, a.last_purchase_at, coalesce(a.last_follow_up_at, a.created_at),
           s.predicted_fen / 100.0, s.clv_fen / 100.0, s.churn_risk, s.churn_source,
           coalesce(a.categories, '{}') || s.channels, s.actions, s.tags, %(as_of)s
    FROM analytics_agg a JOIN analytics_scored s ON s.customer_id = a.customer_id
    ORDER BY a.customer_id
    ON CONFLICT (customer_id) DO UPDATE SET
        recency = excluded.recency, frequency = excluded.frequency, monetary = excluded.monetary,
        lifecycle = excluded.lifecycle, purchase_count = excluded.purchase_count,
        purchase_total = excluded.purchase_total, first_purchase_at = excluded.first_purchase_at,
        last_purchase_at = excluded.last_purchase_at, last_contact_at = excluded.last_contact_at,
        predicted_value = excluded.predicted_value, clv = excluded.clv, churn_risk = excluded.churn_risk,
        churn_source = excluded.churn_source, preferences = excluded.preferences,
        recommended_actions = excluded.recommended_actions, tags = excluded.tags,
        computed_at = excluded.computed_at"""


def _quantile_breaks(cursor):
    """Quintile breakpoints (20/40/60/80 %) of the company's buyers: days since the last purchase,
    number of purchases, total in fen."""
    cursor.execute(
        """SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY since_last_purchase_s / 86400),
                  percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY purchase_count),
                  percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY purchase_total_fen)
           FROM analytics_agg WHERE purchase_count > 0"""
    )
    recency, frequency, monetary = cursor.fetchone()
    if recency is None:
        return {}
    return {"recency": list(recency), "frequency": list(frequency), "monetary": list(monetary)}


def recompute(*, ids=None, as_of=None, params=None, progress=None, quantile_breaks_out=None):
    """Recompute the profiles of ``ids`` (None: every live customer) as of ``as_of`` (now);
    returns the number written. ``progress(done, total)`` is called after each chunk. In bulk
    quantile mode the breakpoints are computed from this run's aggregates first and handed to
    ``quantile_breaks_out(breaks)`` (the caller stores them for later per-customer runs)."""
    from analytics.models import AnalyticsSettings

    as_of = as_of or timezone.now()
    if params is None:
        params = rules.Params.from_settings(AnalyticsSettings.load())
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        total = _build_aggregate(cursor, as_of=as_of, ids=ids)
        aggregated = time.monotonic()
        if ids is None and quantile_breaks_out is not None:
            breaks = _quantile_breaks(cursor)
            quantile_breaks_out(breaks)
            params.quantile_breaks = breaks
            params.quantile = bool(breaks)
        cursor.execute("DROP TABLE IF EXISTS analytics_scored")
        cursor.execute(
            """CREATE TEMPORARY TABLE analytics_scored (
                   customer_id bigint, recency smallint, frequency smallint, monetary smallint,
                   lifecycle varchar(10), predicted_fen bigint, clv_fen bigint, churn_risk numeric(5, 4),
                   churn_source varchar(5), channels varchar(50)[], actions varchar(50)[], tags varchar(30)[]
               ) ON COMMIT DROP"""
        )
        done = 0
        if progress:
            progress(0, total)
        for frame in _chunks(FRAME_COLUMNS):
            _copy_scored(rules.score(frame, params))
            done += len(frame)
            if progress:
                progress(done, total)
        scored = time.monotonic()
        cursor.execute(WRITE_SQL, {"as_of": as_of})
        written = cursor.rowcount
    logger.info(
        "profiles recomputed: %s customers (aggregate %.1fs, score %.1fs, write %.1fs)",
        written,
        aggregated - started,
        scored - aggregated,
        time.monotonic() - scored,
    )
    return written


def training_set(*, now=None):
    """(features, churned) for the churn model: every live customer created before the cut-off
    (now − 180 days), features from what was known at the cut-off, churned = no purchase and no
    follow-up in the 180 days after it. Nothing after the cut-off reaches the features."""
    now = now or timezone.now()
    cutoff = now - CHURN_WINDOW
    features, labels = [], []
    with transaction.atomic(), connection.cursor() as cursor:
        _build_aggregate(cursor, as_of=cutoff, categories=False, label_until=now)
        for frame in _chunks([*FRAME_COLUMNS, "churned"], ordered=True):
            features.append(rules.churn_features(frame).astype(np.float32))
            labels.append(frame["churned"].to_numpy(dtype=bool))
    if not features:
        return np.empty((0, len(rules.FEATURES)), dtype=np.float32), np.empty(0, dtype=bool)
    return np.concatenate(features), np.concatenate(labels)


def churn_model_fit(features, labels, *, min_labelled):
    """A logistic regression on standardised features, evaluated on a stratified 25 % hold-out;
    returns (model dict, AUC) — or (None, None) when there are fewer than ``min_labelled``
    customers or too few of either class, and (None, AUC) when the hold-out AUC is below MIN_AUC
    (in both cases the rule is used)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    churned = int(labels.sum())
    if len(labels) < min_labelled or min(churned, len(labels) - churned) < MIN_PER_CLASS:
        return None, None
    x_train, x_test, y_train, y_test = train_test_split(
        features.astype(np.float64), labels, test_size=0.25, stratify=labels, random_state=0
    )
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale[scale == 0] = 1.0
    classifier = LogisticRegression(max_iter=1000)
    classifier.fit((x_train - mean) / scale, y_train)
    auc = float(roc_auc_score(y_test, classifier.predict_proba((x_test - mean) / scale)[:, 1]))
    model = {
        "features": list(rules.FEATURES),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": classifier.coef_[0].tolist(),
        "intercept": float(classifier.intercept_[0]),
    }
    return (model if auc >= MIN_AUC else None), auc
