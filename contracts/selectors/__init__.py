"""Reads on contracts, payments and invoices: scoped querysets and SQL aggregates, one module per part."""
