import pytest

from approvals.tests.factories import setup_approvers


@pytest.fixture
def aorg(org):
    """The org fixture with department leaders and one general manager (see setup_approvers)."""
    return setup_approvers(org)
