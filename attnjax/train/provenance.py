"""Which code trained a run: attnjax's version, a digest of its sources and, in a git checkout, the commit.

Every run stores this in its ``results.json`` (``"code"``). A run key hashes the config only, so a
grid re-run in an old results directory reuses runs that older code trained; with the digest stored,
``experiments/compare.py`` names the runs it reuses from other code and ``experiments/table.py``
says when a table's rows come from more than one version of the sources.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path
from typing import Optional

import attnjax

PACKAGE_DIR = Path(attnjax.__file__).resolve().parent


def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """sha256 over the package's ``.py`` files (each one's path relative to ``package_dir`` and its
    bytes, in sorted order): equal for equal code on any machine, whatever git knows of it."""
    digest = hashlib.sha256()
    for path in sorted(Path(package_dir).rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _git(args: list[str], cwd: Path) -> Optional[str]:
    """``git args`` run in ``cwd``: its stdout, or None without git or outside a repository."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def code_version(package_dir: Path = PACKAGE_DIR) -> dict:
    """``{"attnjax", "source_sha256", "git_commit", "git_dirty"}``; the git fields are None unless git
    tracks the package (an installed wheel, a copy), ``git_dirty`` True when tracked files of the
    package differ from the commit. Read once per process."""
    # Only where git tracks the package itself: an install inside some other checkout (a virtualenv
    # in a repository) is not that repository's code.
    tracked = _git(["ls-files", "--error-unmatch", "__init__.py"], package_dir) is not None
    commit = _git(["rev-parse", "HEAD"], package_dir) if tracked else None
    dirty = None
    if commit is not None:
        status = _git(["status", "--porcelain", "--untracked-files=no", "--", "."], package_dir)
        dirty = None if status is None else bool(status)
    return {
        "attnjax": attnjax.__version__,
        "source_sha256": source_digest(package_dir),
        "git_commit": commit,
        "git_dirty": dirty,
    }


def sources(results: dict) -> Optional[str]:
    """The source digest stored in a run's results (``results.json``), None for runs stored before it."""
    return (results.get("code") or {}).get("source_sha256")


def describe(code: Optional[dict]) -> str:
    """One line for a table or a warning: ``sources 1a2b3c4d5e6f (git 0123abcd4567, uncommitted changes)``."""
    if not code or not code.get("source_sha256"):
        return "code not recorded (trained before runs stored it)"
    text = f"sources {code['source_sha256'][:12]}"
    if code.get("git_commit"):
        text += f" (git {code['git_commit'][:12]}" + (", uncommitted changes" if code.get("git_dirty") else "") + ")"
    return text
