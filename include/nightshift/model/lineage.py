"""What a model was built from: the training data's fingerprint, its DVC hashes and the code's git commit."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nightshift.feature_list import KEYS

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
# Tags of a training's MLflow run that say what it was built from (train.py writes them, provenance reads them).
GIT_COMMIT_TAG = "git.commit"
GIT_DIRTY_TAG = "git.dirty"
TRAINING_SET_MD5_TAG = "dvc.training_set.md5"
RAW_DATA_MD5_TAG = "dvc.raw_data.md5"
TRAINING_SET_REMOTE_TAG = "dvc.training_set.remote"  # set by train_model's version_training_set
DVC_STAGE_TAG = "dvc.stage"  # the dvc.yaml stage that trained it, when `dvc repro` did


def data_fingerprint(frame) -> dict[str, Any]:
    """Row count, snapshot date range and a content hash of a training set.

    The hash covers column names, types and values in key order, so it does not depend
    on how Spark happened to split or order the Parquet files: the same rows give the
    same hash, one changed value gives another.
    """
    import pandas as pd

    ordered = frame.sort_values(list(KEYS), kind="mergesort").reset_index(drop=True)
    # Dates hash by their ISO text: a column of datetime.date and one of datetime64 give one hash.
    hashable = ordered.assign(as_of_date=pd.to_datetime(ordered["as_of_date"]).dt.strftime("%Y-%m-%d"))
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{hashable[c].dtype}" for c in hashable.columns).encode())
    digest.update(pd.util.hash_pandas_object(hashable, index=False).to_numpy().tobytes())
    dates = pd.to_datetime(ordered["as_of_date"])
    return {
        "rows": int(len(ordered)),
        "date_min": dates.min().date().isoformat() if len(ordered) else None,
        "date_max": dates.max().date().isoformat() if len(ordered) else None,
        "dates": int(dates.nunique()),
        "sha256": digest.hexdigest(),
    }


def git_commit(home: Path, own_outputs: Sequence[Path] = ()) -> dict[str, str]:
    """HEAD of the checkout at `home` and whether its tracked files differ from it.

    `own_outputs` are files the run itself writes (a DVC stage's git-tracked metrics and plots,
    which `dvc repro` deletes before the stage runs): they do not count as a dirty tree.

    "unknown" outside a git checkout (a container image, an sdist): lineage is recorded
    as far as it is known, and training never fails over it.
    """
    try:
        head = subprocess.run(["git", "-C", str(home), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            log.info("no git commit for %s: %s", home, head.stderr.strip())
            return {"commit": UNKNOWN, "dirty": UNKNOWN}
        status = subprocess.run(
            ["git", "-C", str(home), "status", "--porcelain", "--untracked-files=no", "--", ".", *_excluded(home, own_outputs)],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("no git commit for %s: %s", home, exc)
        return {"commit": UNKNOWN, "dirty": UNKNOWN}
    dirty = UNKNOWN if status.returncode != 0 else str(bool(status.stdout.strip())).lower()
    return {"commit": head.stdout.strip(), "dirty": dirty}


def _excluded(home: Path, paths: Sequence[Path]) -> list[str]:
    root = home.resolve()
    return [f":(exclude){Path(p).resolve().relative_to(root).as_posix()}" for p in paths if Path(p).resolve().is_relative_to(root)]


def dvc_md5(path: Path) -> str:
    """The md5 DVC gives `path`, as `dvc.lock` and `.dvc` files show it (`<md5>.dir` for a directory).

    Computed by DVC's own hashing (dvc_data), not a copy of it, so the value matches what
    `dvc add`, `dvc repro` and `dvc status` record for the same bytes.
    """
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    if not path.exists():
        raise FileNotFoundError(f"cannot hash {path} for its DVC version: it does not exist")
    fs = LocalFileSystem()
    # A dry run hashes only; the object database it needs for staging stays empty and is thrown away.
    with tempfile.TemporaryDirectory(prefix="nightshift-dvc-hash-") as scratch:
        _, _, obj = build(HashFileDB(fs, scratch), str(path), fs, "md5", dry_run=True)
    return obj.hash_info.value
