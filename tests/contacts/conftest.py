import pytest


@pytest.fixture
def actor(marketer):
    """Who runs the imports of these tests."""
    return marketer.user
