import pytest
from ops_testing import IMPLEMENTATIONS, SCORE_NAMES


@pytest.fixture(params=SCORE_NAMES)
def score_name(request):
    return request.param


@pytest.fixture(params=list(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]
