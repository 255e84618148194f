"""The raw data contract's file schemas, written out for the tests.

Not imported from the package on purpose: the contract is the reference the code is
checked against, not the other way round.
"""

from __future__ import annotations

import pyarrow as pa

EVENTS_FILE_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("sessions", pa.int32()),
        ("minutes", pa.float64()),
        ("support_tickets", pa.int32()),
        ("failed_payments", pa.int32()),
    ]
)
CUSTOMERS_FILE_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("signup_date", pa.date32()),
        ("plan", pa.string()),
        ("region", pa.string()),
        ("monthly_fee", pa.float64()),
        ("churn_date", pa.date32()),
    ]
)
