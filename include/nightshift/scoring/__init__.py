"""Scoring a day: Spark prediction with the serving model, then the warehouse publish.

- `predict`: the booster broadcast once, every partition predicting its own rows.
- `score`: score a date with the model behind an alias and publish it, audited in `scoring_runs`.
"""
