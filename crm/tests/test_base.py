import pytest

from crm.api.base import ScopedModelViewSet


def test_a_viewset_cannot_override_get_queryset():
    with pytest.raises(TypeError, match="get_scoped_queryset"):

        class Leaky(ScopedModelViewSet):
            def get_queryset(self):
                return None
