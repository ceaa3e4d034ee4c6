"""Customer profiles (客户画像): every live customer's profile computed at the end of the load by
the product's own bulk recompute (``analytics.services.profiles_recompute_all(train=False)``, the
nightly job's code path), so the reports and pages that read profiles (客户价值, 流失分析, the
customer 360 page) are measured on a full table; and the nightly recompute measured as a batch job
(wall time and peak RSS of its own process) on top — updating the rows of the night before, as in
production."""

import time

from bench.apps.customers import CUSTOMER_360
from bench.registry import batch_job, generator, get

# What the recompute's aggregate reads: analysed first, so the load's transaction plans it on
# real statistics (the tables were just COPYed; their indexes are still dropped).
SOURCES = (
    "customers_customer",
    "contracts_contract",
    "contracts_contractline",
    "contracts_product",
    "activities_followup",
)


@generator("analytics", after=["customers", "contracts", "activities"], tables=["analytics_customerprofile"], version=1)
def analytics(load):
    """Runs inside the build's transaction on Django's connection (the Load's connection is that
    connection's psycopg one): the engine's ``transaction.atomic`` is a savepoint there, its
    temporary tables are dropped by the engine itself before it creates them again."""
    from analytics.services import profiles_recompute_all

    for table in SOURCES:
        load.execute(f"ANALYZE {table}")
    started = time.monotonic()
    written = profiles_recompute_all(train=False)
    # The engine's SET LOCALs (work_mem, jit, parallel costs) would last to the end of the load.
    for setting in ("work_mem", "jit", "parallel_setup_cost", "parallel_tuple_cost"):
        load.execute(f"RESET {setting}")
    load.rows["analytics_customerprofile"] = written
    load.log(f"  analytics_customerprofile: {written:,} profiles in {time.monotonic() - started:.1f} s")


@batch_job("analytics.recompute", "customer profiles: every customer recomputed (no training)", target=(60, 2048))
def recompute():
    from analytics.services import profiles_recompute_all

    profiles_recompute_all(train=False)


@batch_job("analytics.nightly", "customer profiles: churn model trained, then every customer", target=(90, 2048))
def nightly():
    from analytics.services import profiles_recompute_all

    profiles_recompute_all(train=True)


# The customer 360 page: the customer's profile (客户画像).
CUSTOMER_360.append(lambda customer_id: get(f"/api/v1/customers/{customer_id}/profile/"))
