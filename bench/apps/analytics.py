"""Customer profiles (客户画像): the nightly recompute of every customer, measured as a batch job
(wall time and peak RSS of its own process) on the loaded customers, contracts and lines. No
generator: profiles are what the job writes (kept between runs, as in production, where every
night updates the rows of the night before)."""

from bench.registry import batch_job


@batch_job("analytics.recompute", "customer profiles: every customer recomputed (no training)", target=(60, 2048))
def recompute():
    from analytics.services import profiles_recompute_all

    profiles_recompute_all(train=False)


@batch_job("analytics.nightly", "customer profiles: churn model trained, then every customer", target=(90, 2048))
def nightly():
    from analytics.services import profiles_recompute_all

    profiles_recompute_all(train=True)
