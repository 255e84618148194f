"""`nightshift lineage`'s chain (nightshift.model.provenance): facts, unknowns, warnings and rebuild commands."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from nightshift.model.provenance import chain, render, reproduce, restore_dvc_file

pytestmark = pytest.mark.unit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TSET_MD5 = "a" * 32 + ".dir"
RAW_MD5 = "b" * 32 + ".dir"


def _record(**tags: str) -> dict:
    run_tags = {
        "git.commit": COMMIT,
        "git.dirty": "false",
        "dvc.training_set.md5": TSET_MD5,
        "dvc.raw_data.md5": RAW_MD5,
        "training_set": "data/training_set",
        "dvc.stage": "train",
        **tags,
    }
    return {
        "name": "churn_xgb",
        "version": "3",
        "aliases": ["champion"],
        "version_tags": {"gate.outcome": "promoted", "gate.reason": "beats version 2"},
        "run_id": "r1",
        "experiment_id": "1",
        "experiment": "churn_xgb",
        "run_started": "2026-06-01T02:00:00+00:00",
        "run_tags": {k: v for k, v in run_tags.items() if v is not None},
        "run_params": {"data.sha256": "c" * 64, "data.rows": "4200", "data.date_min": "2026-01-05", "data.date_max": "2026-05-25"},
    }


SCORE = {
    "score_date": date(2026, 6, 2),
    "customer_id": 17,
    "churn_probability": 0.125,
    "model_name": "churn_xgb",
    "model_version": "3",
    "run_id": "r1",
    "data_version": "0011223344556677",
    "scored_at": datetime(2026, 6, 3, 1, 0, tzinfo=UTC),
}


def test_a_dvc_trained_model_chains_to_checkout_pull_by_md5_and_repro() -> None:
    facts = chain(_record(), SCORE)
    assert facts["model"] == {"name": "churn_xgb", "version": "3", "aliases": ["champion"]}
    assert facts["run"]["gate_outcome"] == "promoted" and facts["run"]["trigger"] == {"dvc.stage": "train"}
    assert facts["data"]["training_set_md5"] == TSET_MD5 and facts["data"]["raw_data_md5"] == RAW_MD5
    assert facts["code"] == {"commit": COMMIT, "dirty": "false"}
    assert facts["data"]["restore_to"] == "data/lineage/churn_xgb-v3-training_set"
    assert facts["unknown"] == {} and facts["warnings"] == []
    assert facts["reproduce"] == [
        f"git checkout {COMMIT}",
        "mkdir -p data && printf '%s\\n' outs: '- md5: " + TSET_MD5 + "' '  hash: md5' '  path: lineage/churn_xgb-v3-training_set' "
        "> data/lineage-churn_xgb-v3.dvc",
        "dvc pull data/lineage-churn_xgb-v3.dvc",
        "dvc repro",
    ]
    # The JSON form carries dates as ISO text.
    assert json.loads(json.dumps(facts))["served"]["scored_at"] == "2026-06-03T01:00:00+00:00"


def test_an_airflow_trained_model_retrains_from_the_pulled_set() -> None:
    facts = chain(_record(**{"dvc.stage": None, "dvc.training_set.remote": "local", "trigger": "churn_drift"}), SCORE)
    assert facts["reproduce"][-1] == (
        "nightshift model train --training-set data/lineage/churn_xgb-v3-training_set --data data/raw --params params.yaml"
    )
    assert facts["run"]["trigger"] == {"trigger": "churn_drift"}
    assert facts["data"]["training_set_remote"] == "local"
    assert facts["warnings"] == []


def test_unknowns_are_named_with_why_and_never_invented() -> None:
    lost = {"git.commit": "unknown", "git.dirty": "unknown", "dvc.training_set.md5": None, "dvc.raw_data.md5": None}
    facts = chain(_record(**lost), SCORE)
    assert facts["code"] == {"commit": "unknown", "dirty": "unknown"}
    assert facts["data"]["training_set_md5"] == "unknown"
    assert set(facts["unknown"]) == {"git.commit", "git.dirty", "data.training_set_md5", "data.raw_data_md5"}
    assert "outside a git checkout" in facts["unknown"]["git.commit"]
    assert "no DVC md5 of its training set" in facts["unknown"]["data.training_set_md5"]
    # Nothing to check out and nothing to pull: no command is printed rather than a wrong one.
    assert facts["reproduce"] == []
    text = render([facts], "lineage")
    assert "unknown  git.commit: the run was trained outside a git checkout" in text
    assert "rebuild  not possible from what the run recorded" in text


def test_a_run_from_before_lineage_tags_is_unknown_not_a_crash() -> None:
    record = _record()
    record["run_tags"] = {}
    record["run_params"] = {}
    facts = chain(record, SCORE)
    assert "no git.commit tag" in facts["unknown"]["git.commit"]
    assert facts["data"]["training_set_fingerprint"] == "unknown"
    assert facts["data"]["training_set_dates"] == "unknown..unknown"


def test_a_dirty_tree_and_a_run_mismatch_are_flagged() -> None:
    facts = chain(_record(**{"git.dirty": "true"}), {**SCORE, "run_id": "other"})
    assert any("the commit does not reproduce it exactly" in w for w in facts["warnings"])
    assert any("the scores name run other, but version 3 is run r1" in w for w in facts["warnings"])
    assert "WARNING  the tree had uncommitted changes" in render([facts], "lineage")


def test_render_shows_each_link_and_the_commands() -> None:
    text = render([chain(_record(), SCORE)], "lineage of customer 17's score on 2026-06-02")
    lines = text.splitlines()
    assert lines[0] == "lineage of customer 17's score on 2026-06-02"
    assert "score      customer 17 on 2026-06-02: 0.1250 (data_version 0011223344556677" in text
    assert "  model    churn_xgb version 3 [champion]" in lines
    assert "  gate     promoted: beats version 2" in lines
    assert f"  code     git commit {COMMIT} (dirty: false)" in lines
    assert lines[-1] == "    dvc repro"
    date_rows = {"model_name": "churn_xgb", "model_version": "3", "run_id": "r1", "data_version": "x", "rows": 5000}
    per_date = render([chain(_record(), {**date_rows, "scored_at_first": "t0", "scored_at_last": "t1"})], "date")
    assert "scores     5000 rows (data_version x, scored t0..t1)" in per_date


def test_restore_file_is_a_dvc_3_out() -> None:
    assert restore_dvc_file(TSET_MD5, "t") == f"outs:\n- md5: {TSET_MD5}\n  hash: md5\n  path: t\n"
    assert reproduce(_record(**{"git.commit": None, "dvc.training_set.md5": None})) == []


# Tag values are free text: whoever can write to the tracking server sets them. None may reach a printed command.
HOSTILE = ["; rm -rf /", "$(touch /tmp/pwned)", "`id`", "abc def0123", "0123abc' ; echo '", '0123abc" x', "a" * 32 + "\n", "--orphan"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_git_commit_tag_is_unknown_and_checks_nothing_out(value: str) -> None:
    facts = chain(_record(**{"git.commit": value}), SCORE)
    assert facts["unknown"]["git.commit"] == f"the run's git.commit tag {value!r} is not a git commit (7 to 40 hex digits)"
    assert facts["code"]["commit"] == "unknown"
    assert not any("git checkout" in c or value in c for c in facts["reproduce"])
    # The training set's md5 is sound: its restore is still printed.
    assert facts["reproduce"][-2:] == ["dvc pull data/lineage-churn_xgb-v3.dvc", "dvc repro"]
    assert f"  unknown  git.commit: the run's git.commit tag {value!r}" in render([facts], "lineage")


@pytest.mark.parametrize("value", HOSTILE + ["a" * 31 + ".dir", "A" * 32, "a" * 32 + ".dir; ls"])
def test_a_hostile_md5_tag_is_unknown_and_pulls_nothing(value: str) -> None:
    facts = chain(_record(**{"dvc.training_set.md5": value, "dvc.raw_data.md5": value}), SCORE)
    for key, tag in (("data.training_set_md5", "dvc.training_set.md5"), ("data.raw_data_md5", "dvc.raw_data.md5")):
        assert facts["unknown"][key] == f"the run's {tag} tag {value!r} is not a DVC md5 (32 hex digits, .dir for a folder)"
    assert (facts["data"]["training_set_md5"], facts["data"]["raw_data_md5"], facts["data"]["restore_to"]) == ("unknown",) * 3
    assert facts["reproduce"] == [f"git checkout {COMMIT}"]


@pytest.mark.parametrize(
    ("name", "version"), [("churn_xgb; rm -rf ~", "3"), ("../../etc/x", "3"), ("churn xgb", "3"), ("churn_xgb", "3; id")]
)
def test_a_model_name_or_version_unfit_for_a_path_builds_no_restore(name: str, version: str) -> None:
    facts = chain({**_record(), "name": name, "version": version}, SCORE)
    assert "is not" in facts["unknown"]["model"] and facts["data"]["restore_to"] == "unknown"
    assert facts["reproduce"] == [f"git checkout {COMMIT}"]


def test_the_printed_restore_writes_the_dvc_file_in_a_real_shell(tmp_path) -> None:
    import subprocess

    facts = chain(_record(), SCORE)
    restore = facts["reproduce"][1]
    subprocess.run(["bash", "-c", restore], cwd=tmp_path, check=True)
    assert (tmp_path / "data" / "lineage-churn_xgb-v3.dvc").read_text() == restore_dvc_file(TSET_MD5, "lineage/churn_xgb-v3-training_set")
