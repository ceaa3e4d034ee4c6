import pytest


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Uploads, error sheets and exports of a test go to a directory of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT
