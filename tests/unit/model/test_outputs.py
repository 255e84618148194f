"""A model and its evaluation as stage outputs (nightshift.model.outputs): stable bytes, the columns dvc.yaml plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from nightshift.config import project_home
from nightshift.model.outputs import OutputPaths, thinned, write_outputs

pytestmark = pytest.mark.unit


def _fitted():
    import xgboost as xgb

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + rng.normal(scale=0.8, size=300) > 0.5).astype(int)
    model = xgb.XGBClassifier(n_estimators=8, max_depth=3, nthread=1, random_state=1).fit(x, y)
    return model, y, model.predict_proba(x)[:, 1]


def _write(root: Path) -> OutputPaths:
    model, labels, probabilities = _fitted()
    paths = OutputPaths(root / "model" / "model.ubj", root / "reports" / "metrics.json", root / "reports" / "plots")
    write_outputs(paths, model, labels, probabilities, {"roc_auc": 0.9, "n_trees": 8}, calibration_bins=5, curve_points=50)
    return paths


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_model_and_evaluation_give_the_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "a")
    _write(tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == [
        "model/model.ubj",
        "reports/metrics.json",
        "reports/plots/calibration.csv",
        "reports/plots/precision_recall.csv",
        "reports/plots/roc.csv",
    ]
    assert a == b


def test_the_model_file_loads_and_scores_as_the_model_did(tmp_path: Path) -> None:
    import xgboost as xgb

    paths = _write(tmp_path)
    model, _, probabilities = _fitted()
    booster = xgb.Booster(model_file=str(paths.model))
    rng = np.random.default_rng(3)
    reloaded = booster.predict(xgb.DMatrix(rng.normal(size=(300, 4))))
    assert np.allclose(reloaded, probabilities)
    assert json.loads(paths.metrics.read_text()) == {"n_trees": 8, "roc_auc": 0.9}


def test_a_curve_is_thinned_to_evenly_spaced_points_with_both_ends() -> None:
    curve = [{"x": float(i)} for i in range(1001)]
    kept = thinned(curve, 11)
    assert [row["x"] for row in kept] == [0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0]
    assert thinned(curve[:5], 11) == curve[:5]
    with pytest.raises(ValueError, match="at least 2 points"):
        thinned(curve, 1)


def test_curves_written_hold_at_most_curve_points(tmp_path: Path) -> None:
    paths = _write(tmp_path)
    for name in ("roc.csv", "precision_recall.csv"):
        assert len((paths.plots / name).read_text().splitlines()) - 1 <= 50


def test_every_plot_dvc_yaml_declares_has_its_x_and_y_columns(tmp_path: Path) -> None:
    paths = _write(tmp_path)
    stage = yaml.safe_load((project_home() / "dvc.yaml").read_text())["stages"]["train"]
    declared = {name: spec for entry in stage["plots"] for name, spec in entry.items()}
    assert {Path(name).name for name in declared} == {p.name for p in paths.plots.iterdir()}
    for name, spec in declared.items():
        with (paths.plots / Path(name).name).open() as fh:
            header = next(csv.reader(fh))
        assert {spec["x"], spec["y"]} <= set(header), f"{name}: {header} lacks {spec['x']}/{spec['y']}"
