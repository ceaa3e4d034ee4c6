"""The public pool's nightly recall (SPEC §2.2) on the loaded customers. The loaded data's
follow-ups spread over three years, so at the real time almost every customer would be overdue —
a first night, not a night the job has to meet its target on. The job runs as of the night a week
after the earliest customer fell due (the earliest recall clock plus the shortest rule's days plus
seven): every owned customer is still examined, a week's worth (~160 at full scale) returns. It is
rolled back afterwards, so the data stays as loaded."""

from bench.registry import batch_job


@batch_job("pool.recall", "pool recall rule, nightly job (rolled back)", target=(10, None), rollback=True)
def recall():
    from datetime import timedelta

    from django.db import connection

    from pool.models import Pool, PoolLevelRule
    from pool.services import pool_recall_run

    shortest = min(
        [pool.no_follow_up_days for pool in Pool.objects.filter(no_follow_up_days__gt=0)]
        + list(PoolLevelRule.objects.filter(no_follow_up_days__gt=0).values_list("no_follow_up_days", flat=True))
    )
    with connection.cursor() as cursor:
        # The last follow-up's minimum comes from its index; the creation's costs one scan of the
        # table (a fraction of a second, counted in the job's time).
        cursor.execute(
            "SELECT LEAST((SELECT min(last_follow_up_at) FROM customers_customer),"
            " (SELECT min(created_at) FROM customers_customer))"
        )
        earliest = cursor.fetchone()[0]
    pool_recall_run(now=earliest + timedelta(days=shortest + 7))
