"""Scoring a day: Spark prediction with the serving model, then the warehouse publish.

- `predict`: the booster broadcast once, every partition predicting its own rows.
- `data_version`: the content hash of a day's features that every score row carries.
- `score`: score a date with the model behind an alias and publish it, audited in `scoring_runs`.
- `shadow`: champion and challenger in one pass: served rows (the canary's from the challenger) and shadow rows.
- `rollout`: the canary's settings and its stable split of customers.
- `run_folders`: a features and scores folder per scoring run, and the retention of old ones.
"""
