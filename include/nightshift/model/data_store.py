"""Keep a training set restorable by its DVC hash: put it into the project's DVC cache and push it to a DVC remote.

Done with DVC's object layer (dvc_data's build and transfer, the calls `dvc commit` and
`dvc push` make), not the `dvc` command: the command holds the workspace lock
(`.dvc/tmp/lock`) and fails when another DVC process runs there, e.g. a `dvc repro` by hand
or a second Airflow task. The cache and the remote are content-addressed and every object
is written to a temporary name and renamed into place, so concurrent writers of the same
object cannot corrupt it; no lock and no Airflow pool are needed.

Which remote: `NIGHTSHIFT_DVC_REMOTE` names a remote of the repository's DVC config
(`dvc remote add` / `dvc remote modify` set its URL and credentials); unset, the
repository's default remote (`core.remote`). Neither is an error, never a silent skip.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REMOTE_ENV = "NIGHTSHIFT_DVC_REMOTE"


@dataclass(frozen=True)
class StoredData:
    md5: str  # as a `.dvc` file or dvc.lock records it: `<md5>.dir` for a directory
    remote: str
    files: int

    def dvc_file(self, path: str) -> str:
        """A `.dvc` file that `dvc pull` / `dvc checkout` restores these bytes from, at `path`."""
        return f"outs:\n- md5: {self.md5}\n  nfiles: {self.files}\n  hash: md5\n  path: {path}\n"


def store(path: Path, repo_root: Path, remote: str | None = None) -> StoredData:
    """Commit `path` to the DVC cache of the repository at `repo_root` and push it to `remote`."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.transfer import transfer

    if not path.exists():
        raise FileNotFoundError(f"cannot version {path}: it does not exist")
    try:
        repo = Repo(str(repo_root))
    except NotDvcRepoError as exc:
        raise RuntimeError(f"{repo_root} is not a DVC repository (no .dvc/): cannot keep {path} restorable by its hash") from exc
    try:
        name = remote or os.environ.get(REMOTE_ENV) or repo.config["core"].get("remote")
        if not name:
            raise RuntimeError(
                f"no DVC remote to push {path} to: set {REMOTE_ENV} to a remote of {repo_root}/.dvc/config "
                "or give the repository a default one (`dvc remote add -d NAME URL`)"
            )
        remote_odb = repo.cloud.get_remote_odb(name, "push")
        cache = repo.cache.local
        staging, meta, obj = build(cache, str(path), cache.fs, "md5")
        # shallow=False: a directory's files go with its `.dir` listing.
        transfer(staging, cache, {obj.hash_info}, shallow=False)
        pushed = transfer(cache, remote_odb, {obj.hash_info}, shallow=False)
    finally:
        repo.close()
    stored = StoredData(md5=obj.hash_info.value, remote=name, files=int(meta.nfiles or 1))
    log.info("%s is DVC %s in the cache and on remote %r (%d objects sent)", path, stored.md5, name, len(pushed.transferred))
    return stored
