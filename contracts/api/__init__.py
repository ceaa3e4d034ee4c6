"""The contracts app API: one module per part (contracts and products; payments, invoices, receivables)."""
