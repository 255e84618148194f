"""Promotion on evidence over weeks of scoring: a worse challenger is retired, a better one promoted.

Slow tier. A landing zone of 160 days; train_model trains version 1 (a good model) as of 2026-05-16. Version 2
is a model fit on shuffled labels (as good as a coin), registered through MLflow. Two phases:

  A. champion 1, challenger 2: seven days are scored, then a day a month later, when their labels
     have matured, is scored and judged by drift_monitor: the comparison fills `model_comparison` and
     the policy retires version 2 (alias removed, `gate.outcome=retired_on_evidence`).
  B. version 3, another coin, is made champion by hand and version 1 is challenger: seven more days,
     a judged day a month later, and the policy promotes version 1 through the lifecycle's
     compare-and-set (`gate.outcome=promoted_on_evidence`, the champion history 1, 3, 1).

The judged days run `nightly_scoring` and `drift_monitor` with `airflow dags test` (their raw-data
gates marked successful, as in test_drift_loop.py); the seven days of each phase are scored with the
same library calls the DAG's tasks make (features on Spark, then ``score_day_with_challenger``), which
is where the DAG run's minutes go and what the e2e tier already covers.
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nightshift.local.airflow_env import airflow_env, dag_run_state, dag_test, dag_test_command, migrate
from nightshift.local.generate import generate
from tests.e2e.conftest import isolated_env
from tests.pg_helpers import create_database, query

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MODEL = "churn_xgb"
START, DAYS, CUSTOMERS = date(2026, 3, 1), 160, 1500
TRAINED_AS_OF = date(2026, 5, 16)
PHASE_A = [date(2026, 5, 18) + timedelta(days=i) for i in range(7)]
JUDGED_A = date(2026, 6, 24)  # the label snapshot of PHASE_A's last day (+30) has landed
PHASE_B = [date(2026, 6, 25) + timedelta(days=i) for i in range(7)]
JUDGED_B = date(2026, 8, 1)
SKIP_GATES = "^(wait_for_day|validate_raw)$"


@pytest.fixture(scope="module")
def loop(tmp_path_factory, pg_url: str):
    root = tmp_path_factory.mktemp("rollout-loop")
    generate(root / "raw", customers=CUSTOMERS, days=DAYS, start_date=START, seed=5)
    name = f"rollout_loop_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_url, name)
    base = isolated_env(root)
    env = airflow_env(url, base=base)
    migrate(env)
    return {"root": root, "env": env, "url": url}


def _dag_score(loop: dict, day: date) -> None:
    proc = subprocess.run(
        [*dag_test_command("nightly_scoring", day), "--mark-success-pattern", SKIP_GATES], env=loop["env"], capture_output=True, text=True
    )
    log = loop["root"] / "logs" / f"nightly_scoring_{day}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    assert dag_run_state(proc.stdout + proc.stderr) == "success", f"nightly_scoring for {day} failed, see {log}"


def _library_score(spark, loop: dict, day: date) -> dict:
    """What nightly_scoring's build_features and score tasks call, in this process."""
    from nightshift.config import day_features_dir, day_scores_dir, load_params
    from nightshift.features.jobs import scoring_features
    from nightshift.model.registry import Aliases
    from nightshift.scoring.rollout import Canary
    from nightshift.scoring.shadow import score_day_with_challenger

    p, run = load_params(), f"library-{day.isoformat()}"  # the test points NIGHTSHIFT_WORK_DIR at the loop's work dir
    windows = p["features"]["windows_days"]
    features = scoring_features(spark, Path(loop["env"]["NIGHTSHIFT_DATA_DIR"]), day, day_features_dir(day, run), windows, loop["url"])
    return score_day_with_challenger(
        spark,
        Path(features["path"]),
        day,
        loop["url"],
        MODEL,
        windows,
        day_scores_dir(day, run),
        Aliases.from_params(p["model"]),
        Canary.from_params(p["rollout"]),
    )


def _coin(spark, loop: dict, seed: int) -> str:
    """A model of the right inputs fit on shuffled labels (it scores like a coin), registered with what
    drift monitoring reads of a trained version: its reference distributions and training dates."""
    import mlflow
    import xgboost as xgb

    from nightshift.config import load_params
    from nightshift.feature_list import feature_columns
    from nightshift.features.jobs import scoring_features
    from nightshift.model.evaluation import reference_distributions
    from nightshift.model.registry import configure_mlflow, ensure_experiment

    windows = load_params()["features"]["windows_days"]
    columns = feature_columns(windows)
    out = Path(loop["env"]["NIGHTSHIFT_WORK_DIR"]) / "coin_features"
    scoring_features(spark, Path(loop["env"]["NIGHTSHIFT_DATA_DIR"]), TRAINED_AS_OF, out, windows)
    frame = pd.read_parquet(out)[columns]
    labels = np.random.default_rng(seed).integers(0, 2, len(frame))
    model = xgb.XGBClassifier(n_estimators=30, max_depth=3, nthread=1).fit(frame, labels)
    configure_mlflow()
    ensure_experiment(MODEL)
    with mlflow.start_run():
        mlflow.log_param("data.date_max", (TRAINED_AS_OF - timedelta(days=30)).isoformat())
        mlflow.log_dict(reference_distributions(frame, columns, model.predict_proba(frame)[:, 1], 10), "reference/distributions.json")
        info = mlflow.xgboost.log_model(model, name="model", registered_model_name=MODEL, input_example=frame.head(2))
    return str(info.registered_model_version)


def _judge(loop: dict, day: date) -> None:
    _dag_score(loop, day)
    dag_test("drift_monitor", day, loop["env"], loop["root"] / "logs" / f"drift_monitor_{day}.log", conf={"score_date": day.isoformat()})


def test_a_worse_challenger_is_retired_and_a_better_one_promoted(loop: dict, spark, monkeypatch, capsys) -> None:
    env, url = loop["env"], loop["url"]
    for key in ("MLFLOW_TRACKING_URI", "NIGHTSHIFT_MLFLOW_ARTIFACTS", "NIGHTSHIFT_DATA_DIR", "NIGHTSHIFT_WORK_DIR", "NIGHTSHIFT_PARAMS"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("NIGHTSHIFT_DATABASE_URL", url)
    from nightshift.cli.main import main
    from nightshift.model.registry import Aliases, champion_history, registry_client, set_champion

    dag_test("train_model", TRAINED_AS_OF, env, loop["root"] / "logs" / "train_model.log")
    client = registry_client()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"

    # Phase A: a worse challenger in shadow.
    worse = _coin(spark, loop, seed=1)
    client.set_registered_model_alias(MODEL, "challenger", worse)
    for day in PHASE_A:
        result = _library_score(spark, loop, day)
        assert result["shadow"]["status"] == "succeeded" and result["model_version"] == "1"
    shadow_days = query(url, "SELECT score_date, count(*) FROM churn_scores_shadow GROUP BY score_date ORDER BY score_date")
    served_days = query(url, "SELECT score_date, count(*) FROM churn_scores GROUP BY score_date ORDER BY score_date")
    assert shadow_days == served_days and [d for d, _ in shadow_days] == PHASE_A
    _judge(loop, JUDGED_A)

    compared = query(url, "SELECT score_date, auc_diff, auc_diff_high FROM model_comparison WHERE segment = 'all' ORDER BY score_date")
    assert [d for d, _, _ in compared] == PHASE_A
    assert all(high < 0 for _, _, high in compared), compared
    tags = client.get_model_version(MODEL, worse).tags
    assert tags["rollout.decision"] == "retire" and tags["gate.outcome"] == "retired_on_evidence", tags
    assert tags["rollout.days"] == "7" and float(tags["rollout.auc_diff"]) < -0.1
    aliases = client.get_registered_model(MODEL).aliases
    assert "challenger" not in aliases and str(aliases["champion"]) == "1"
    print(f"\nphase A: version {worse}: {tags['rollout.decision']} ({tags['rollout.reason']})")

    # Phase B: a coin serves, the good model comes back as a challenger.
    coin = _coin(spark, loop, seed=2)
    set_champion(client, MODEL, coin, Aliases(), "test: a weak champion", expected="1")
    client.set_registered_model_alias(MODEL, "challenger", "1")
    for day in PHASE_B:
        assert _library_score(spark, loop, day)["shadow"]["model_version"] == "1"
    _judge(loop, JUDGED_B)

    tags = client.get_model_version(MODEL, "1").tags
    assert tags["rollout.decision"] == "promote" and tags["gate.outcome"] == "promoted_on_evidence", tags
    assert tags["rollout.champion_version"] == coin and float(tags["rollout.auc_diff_low"]) > 0
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    assert champion_history(client, MODEL)[-3:] == ["1", coin, "1"]
    print(f"phase B: version 1: {tags['rollout.decision']} ({tags['rollout.reason']})")

    assert main(["model", "compare", "--since", PHASE_B[0].isoformat(), "--until", PHASE_B[-1].isoformat()]) == 0
    printed = capsys.readouterr().out
    with capsys.disabled():
        print(printed)
    assert "challenger 1: promote" in printed
