"""Days are independent: each scoring run writes its own folders, scoring_runs names the published run's, retention keeps it.

Real Spark builds the day's features from a generated landing zone and scores them with a model from a real
MLflow registry, published into the real embedded PostgreSQL, with the folders the DAG's tasks choose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nightshift.airflow.context import run_folder_name
from nightshift.feature_list import feature_columns
from nightshift.features.jobs import scoring_features
from nightshift.local.generate import generate
from nightshift.model.registry import Aliases
from nightshift.scoring.rollout import Canary
from nightshift.scoring.run_folders import clean_scoring_folders
from nightshift.scoring.shadow import score_day_with_challenger
from nightshift.warehouse.audit import published_run, scoring_run
from nightshift.warehouse.publish import ScoreLineage, publish_score_batches
from nightshift.warehouse.readers import read_scores
from nightshift.warehouse.schema import ensure_schema
from tests.integration.scoring._models import churn_label, mlflow_store, synthetic_features
from tests.pg_helpers import create_database, query

pytestmark = pytest.mark.integration

WINDOWS = [7, 30, 90]
COLUMNS = feature_columns(WINDOWS)
MODEL = "churn_xgb_run_folders_test"
# What `airflow dags test` of one date gives both times: the same run id.
RUN_ID = "manual__2026-05-11T00:00:00+00:00"


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory):
    return generate(tmp_path_factory.mktemp("landing") / "raw", customers=300, days=100, start_date=dt.date(2026, 2, 1), seed=3)


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import mlflow
    import xgboost as xgb
    from mlflow.tracking import MlflowClient

    with mlflow_store(tmp_path_factory.mktemp("mlflow"), MODEL):
        train = synthetic_features(np.arange(1_000), 1, COLUMNS)
        model = xgb.XGBClassifier(n_estimators=20, max_depth=3, nthread=1).fit(train[COLUMNS], churn_label(train))
        with mlflow.start_run():
            info = mlflow.xgboost.log_model(model, name="model", registered_model_name=MODEL)
        MlflowClient().set_registered_model_alias(MODEL, "champion", str(info.registered_model_version))
        yield str(info.registered_model_version)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NIGHTSHIFT_WORK_DIR", str(tmp_path / "work"))
    return (tmp_path / "work").resolve()


@pytest.fixture
def db(pg_url: str) -> str:
    """A warehouse of its own: retention reads every date's published run, and other tests' dates must not count."""
    url = create_database(pg_url, f"run_folders_{uuid.uuid4().hex[:10]}")
    ensure_schema(url)
    return url


def nightly_run(spark, landing, url: str) -> dict:
    """What nightly_scoring's build_features and score tasks do for one run: the folders they choose, then the calls."""
    from nightshift.config import day_features_dir, day_scores_dir

    day = landing.end_date
    features = scoring_features(spark, landing.data_dir, day, day_features_dir(day, run_folder_name({"run_id": RUN_ID})), WINDOWS)
    scores = day_scores_dir(day, run_folder_name({"run_id": RUN_ID}))
    return score_day_with_challenger(spark, Path(features["path"]), day, url, MODEL, WINDOWS, scores, Aliases(), Canary(0.0, "s"))


def files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_runs_of_a_day_write_their_own_folders_and_the_first_is_left_as_it_was(spark, landing, champion, work, db) -> None:
    day = landing.end_date
    first = nightly_run(spark, landing, db)
    first_record = published_run(db, day)
    first_files = {p: files(Path(p)) for p in (first_record.features_path, first_record.scores_path)}
    assert all(first_files.values())

    second = nightly_run(spark, landing, db)
    record = published_run(db, day)

    # The published run is the second, and the record names the folders its rows came from.
    assert record.id == second["scoring_run"] != first["scoring_run"]
    assert record.scores_path == second["scores_path"] != first["scores_path"]
    assert record.features_path != first_record.features_path
    for path, kind in ((record.features_path, "features"), (record.scores_path, "scores")):
        assert Path(path).parent == work / kind / f"score_date={day.isoformat()}" and Path(path).name.startswith("run=manual__2026-05-11")
    stored = read_scores(db, day).set_index("customer_id")["churn_probability"].sort_index()
    written = pd.read_parquet(record.scores_path).set_index("customer_id")["churn_probability"].sort_index()
    pd.testing.assert_series_equal(stored, written, check_names=False)
    # The first run's files, which a reader of the first publish may still hold, are byte for byte as it wrote them.
    assert {p: files(Path(p)) for p in first_files} == first_files


DAY = dt.date(2026, 5, 12)
LINEAGE = ScoreLineage(MODEL, "1", "mlflow-run", "data", dt.datetime(2026, 5, 13, tzinfo=dt.UTC))


def publish(url: str, run: int, seed: int, day: dt.date = DAY) -> None:
    rows = pd.DataFrame({"customer_id": np.arange(50), "churn_probability": np.random.default_rng(seed).random(50)})
    publish_score_batches(url, day, LINEAGE, [rows], run)


def folders(work: Path, day: dt.date, name: str) -> dict[str, str]:
    return {kind: str(work / kind / f"score_date={day.isoformat()}" / f"run={name}") for kind in ("features", "scores")}


def record(url: str, name: str, work: Path, day: dt.date = DAY):
    """A scoring run of ``day`` recorded with its folders (created, as the run writes them), held open by the caller."""
    paths = folders(work, day, name)
    for path in paths.values():
        Path(path).mkdir(parents=True)
        (Path(path) / "part-0.parquet").write_bytes(name.encode())
    return scoring_run(url, day, MODEL, "1", "mlflow-run", features_path=paths["features"], scores_path=paths["scores"])


def test_the_record_names_the_run_that_published_last_even_when_it_started_first(db: str, work: Path) -> None:
    with record(db, "early", work) as early, record(db, "late", work) as late:
        assert early < late
        publish(db, late, seed=1)
        publish(db, early, seed=2)  # the slower run's publish replaces the faster one's
    expected = pd.DataFrame({"customer_id": np.arange(50), "churn_probability": np.random.default_rng(2).random(50)})
    stored = read_scores(db, DAY)[["customer_id", "churn_probability"]]
    pd.testing.assert_frame_equal(stored.reset_index(drop=True), expected, check_dtype=False)
    found, named = published_run(db, DAY), folders(work, DAY, "early")
    assert (found.id, found.scores_path, found.features_path) == (early, named["scores"], named["features"])


def _age(path: str, days: float, now: dt.datetime) -> None:
    stamp = (now - dt.timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))


def test_retention_deletes_old_run_folders_but_never_a_days_published_one(db: str, work: Path) -> None:
    now = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
    other = DAY - dt.timedelta(days=1)
    with record(db, "published-long-ago", work, other) as run:
        publish(db, run, seed=1, day=other)
    with record(db, "superseded", work) as run:
        publish(db, run, seed=2)
    with record(db, "published", work) as run:
        publish(db, run, seed=3)
    with pytest.raises(RuntimeError), record(db, "failed", work):
        raise RuntimeError("the run failed after writing its features")
    with record(db, "superseded-recently", work) as run:
        publish(db, run, seed=4)
    with record(db, "latest", work) as run:
        publish(db, run, seed=5)
    # Every folder is older than the retention but two, and "published" is no longer the day's published run.
    ages = {"published-long-ago": 40, "superseded": 30, "published": 20, "failed": 10, "superseded-recently": 3, "latest": 40}
    for name, days in ages.items():
        day = other if name == "published-long-ago" else DAY
        for path in folders(work, day, name).values():
            _age(path, days, now)

    cleaned = clean_scoring_folders(db, work, keep_days=7, now=now)

    left = sorted(p.name for p in work.glob("scores/score_date=*/run=*"))
    assert left == ["run=latest", "run=published-long-ago", "run=superseded-recently"]
    assert sorted(p.name for p in work.glob("features/score_date=*/run=*")) == left
    assert (cleaned.kept_published, cleaned.kept_recent, len(cleaned.removed)) == (4, 2, 6)
    # The published folders are the ones scoring_runs names, and still hold what their runs wrote.
    for day, name in ((DAY, "latest"), (other, "published-long-ago")):
        found = published_run(db, day)
        assert found.scores_path == folders(work, day, name)["scores"]
        assert (Path(found.scores_path) / "part-0.parquet").read_bytes() == name.encode()
    assert query(db, "SELECT count(*) FROM scoring_runs WHERE status = 'failed'") == [(1,)]
