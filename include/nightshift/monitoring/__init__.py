"""Monitoring: how far a scoring day has moved from the reference of the model that scored it, and what to do about it.

- `psi`: population stability index on the reference's own bins, over categories, and its sampling-noise floor.
- `drift`: one day's drift, streamed from the Parquet scoring already wrote (never the rows as Python objects).
- `policy`: the retrain decision (persistence, cooldown, label freshness), a pure function with its reason.
- `reference`: the reference distributions and training lineage of a registered model version.
- `report`: the per-date PNG and HTML drift report.
- `monitor`: one date end to end: measure, decide, store atomically, render.
- `scored_day`: the version and folders a date is judged by, from its published run in `scoring_runs`; disagreeing events refused.
- `comparison`: champion against challenger on matured days (paired bootstrap), per segment.
"""
