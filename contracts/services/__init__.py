"""Writes on products, contracts, approvals of contracts, payments and invoices. Each module holds
one part; callers import from the module (``contracts.services.contracts`` …)."""
