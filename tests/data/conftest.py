"""Fixtures for attnjax.data tests."""

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path:
    """``$ATTNJAX_SHARED_DATA`` or ``<repo>/../shared/data`` (the real data beside the checkout)."""
    override = os.environ.get("ATTNJAX_SHARED_DATA")
    return Path(override) if override else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set ATTNJAX_SHARED_DATA or place shared/data beside the repo)")
    return root
