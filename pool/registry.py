"""SQL conditions later apps plug into the recall rules, from their ``AppConfig.ready()``:

    from pool.registry import register_exemption, register_open_deal

    # contracts: a customer with an active contract is never recalled
    register_exemption("contracts.active", "EXISTS (SELECT 1 FROM contracts_contract k "
                       "WHERE k.customer_id = c.id AND k.status = 'active')")
    # opportunities: an open deal stops the "no deal in M days" rule
    register_open_deal("opportunities.open", "EXISTS (SELECT 1 FROM opportunities_opportunity o "
                       "JOIN opportunities_stage s ON s.id = o.stage_id "
                       "WHERE o.customer_id = c.id AND s.kind = 'open')")

Each condition is a boolean SQL expression over the customer row aliased ``c``
(``customers_customer``), without parameters; it runs inside the nightly set-based recall, the
"待进入公海" list and the locks/limits, so make it index-backed (an index on ``customer_id``).
Locked customers are exempt by the pool app itself."""

EXEMPTIONS = {}
OPEN_DEALS = {}


def register_exemption(name, sql):
    """Customers for which ``sql`` holds are never recalled."""
    EXEMPTIONS[name] = sql


def register_open_deal(name, sql):
    """Customers for which ``sql`` holds have an open deal: the no-deal rule spares them."""
    OPEN_DEALS[name] = sql


def exemption_sql():
    """One condition that is true when any registered exemption holds (FALSE with none)."""
    return " OR ".join(f"({sql})" for sql in EXEMPTIONS.values()) or "FALSE"


def open_deal_sql():
    return " OR ".join(f"({sql})" for sql in OPEN_DEALS.values()) or "FALSE"
