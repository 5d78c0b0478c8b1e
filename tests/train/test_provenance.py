"""Which code trained a run: the source digest, the git fields and their one-line description."""

import re
import shutil

import pytest

from attnjax.train import provenance


def _package(tmp_path, name="pkg"):
    root = tmp_path / name
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("x = 1\n")
    (root / "sub" / "mod.py").write_text("def f():\n    return 2\n")
    return root


def test_source_digest_follows_the_python_sources_and_nothing_else(tmp_path):
    first = _package(tmp_path)
    copy = shutil.copytree(first, tmp_path / "copy")
    assert provenance.source_digest(first) == provenance.source_digest(copy)  # same code, other place
    (copy / "notes.txt").write_text("not code")
    (copy / "sub" / "__pycache__").mkdir()
    (copy / "sub" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0compiled")
    assert provenance.source_digest(copy) == provenance.source_digest(first)
    (copy / "sub" / "mod.py").write_text("def f():\n    return 3\n")  # one byte of code
    assert provenance.source_digest(copy) != provenance.source_digest(first)
    moved = shutil.copytree(first, tmp_path / "moved")
    (moved / "sub" / "mod.py").rename(moved / "mod.py")  # the same bytes under another path
    assert provenance.source_digest(moved) != provenance.source_digest(first)


def test_code_version_of_this_package_and_of_one_outside_git(tmp_path):
    code = provenance.code_version()
    assert code["source_sha256"] == provenance.source_digest(provenance.PACKAGE_DIR)
    assert re.fullmatch(r"[0-9a-f]{64}", code["source_sha256"])
    in_git = provenance._git(["ls-files", "--error-unmatch", "__init__.py"], provenance.PACKAGE_DIR) is not None
    if in_git:  # a checkout (CI's clean clone is one): the commit, and whether attnjax/ differs from it
        assert re.fullmatch(r"[0-9a-f]{40}", code["git_commit"]) and isinstance(code["git_dirty"], bool)
    else:  # an installed copy
        assert code["git_commit"] is None and code["git_dirty"] is None
    outside = provenance.code_version(_package(tmp_path))
    assert outside["git_commit"] is None and outside["git_dirty"] is None
    assert outside["source_sha256"] == provenance.source_digest(tmp_path / "pkg")


def test_a_copy_inside_another_checkout_is_not_that_checkouts_code(tmp_path):
    # A virtualenv inside a repository holds an installed copy that git ignores: no commit for it.
    repo = tmp_path / "repo"
    repo.mkdir()
    if provenance._git(["init", "-q"], repo) is None:
        pytest.skip("git is not installed")
    (repo / ".gitignore").write_text("venv/\n")
    installed = _package(repo / "venv", "pkg")
    tracked = _package(repo, "src")
    git = ["-c", "user.email=t@t", "-c", "user.name=t"]
    assert provenance._git(["add", "-A"], repo) is not None and provenance._git([*git, "commit", "-qm", "c"], repo) is not None
    assert provenance.code_version(installed)["git_commit"] is None
    code = provenance.code_version(tracked)
    assert code["git_commit"] == provenance._git(["rev-parse", "HEAD"], repo) and code["git_dirty"] is False
    (tracked / "__init__.py").write_text("x = 2\n")
    provenance.code_version.cache_clear()
    assert provenance.code_version(tracked)["git_dirty"] is True


def test_describe():
    code = {"source_sha256": "ab" * 32, "git_commit": "0123456789" * 4, "git_dirty": True}
    assert provenance.describe(code) == "sources abababababab (git 012345678901, uncommitted changes)"
    assert provenance.describe({**code, "git_dirty": False}) == "sources abababababab (git 012345678901)"
    assert provenance.describe({**code, "git_commit": None}) == "sources abababababab"
    assert provenance.describe(None) == provenance.describe({}) == "code not recorded (trained before runs stored it)"
