"""The scores warehouse in PostgreSQL, reached by URL (the caller knows where it is).

- `connection`: connect with retry and backoff; errors name host and port, never the password.
- `schema`: `churn_scores` (one partition per score_date), `scoring_runs`, migrations.
- `binary_copy`: score batches encoded for PostgreSQL's binary COPY as the server reads them.
- `publish`: replace a date's rows atomically (staging table, attach or swap in one transaction).
- `audit`: `scoring_runs` rows (running, failed; succeeded is written by the publish), runs of dead workers found,
  the published run of a date and the folders its rows came from.
- `readers`: published rows back out.
- `rows`: the row types of `model_performance` and `model_comparison` (plain values).
- `comparison`: `model_comparison` (champion against challenger per matured date and segment), shadow rows back out.
"""
