"""Data quality: Great Expectations suites run from the checked-in file context, and the gate around them.

- `validation`: run the suites on a raw day (pandas) or a Spark DataFrame; `DataQualityError` names each failure.
- `gate`: the blocking gate (validate, quarantine on failure, record, re-raise).
- `audit`: `data_quality_runs` rows, one per suite and validation.
- `suites`: the feature suites' rules and the training_set suite's run-time parameters, from params.yaml.
- `bands`: the features suite's column-mean bands, from the serving model's reference distributions.
"""
