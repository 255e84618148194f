"""The churn model: training, evaluation, plots, lineage, the registry and the champion/challenger gate.

- `split`: the time split (train | calibration | gap | evaluation).
- `calibration`: the Platt map fitted on the calibration dates, stored in the booster and applied to every served score.
- `train`: fit, evaluate, log to MLflow, register as challenger, put through the gate.
- `evaluation`, `plots`: metrics, reference distributions and figures of a labelled window.
- `lineage`: the training data's fingerprint, its DVC md5s and the git commit.
- `provenance`: `nightshift lineage`, from a published score back to its version, run, data and commit.
- `registry`: the MLflow store, aliases, champion history and rollback.
- `gate`: the gate's verdict (pure); `lifecycle`: applying it, and `nightshift model ...`.
- `rollout_policy`: the rollout verdict on a challenger's matured days (pure), beside the gate.
- `rollout`: the rollout policy's verdict applied to the registry (promote on evidence, retire), with its MLflow run.
"""
