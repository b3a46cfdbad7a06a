-- The statements `make roles` (dbt run-operation create_access_roles) applies for the current
-- target, then those the on-run-end hook applies: for review by whoever administers the
-- warehouse (`dbt compile --select warehouse_access_statements`). Doc access_model.
{{ access_statements() | join(';\n') }};

{{ grant_schema_access(['staging', 'intermediate', 'marts', 'reports', 'pii']) }}
