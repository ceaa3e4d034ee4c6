import pytest

from crm.api.base import ScopedModelViewSet


def test_a_viewset_cannot_override_get_queryset():
    with pytest.raises(TypeError, match="get_scoped_queryset"):

        class Leaky(ScopedModelViewSet):
            def get_queryset(self):
                return None


def test_a_mixin_cannot_override_get_queryset_either():
    class Everything:
        def get_queryset(self):
            return None

    with pytest.raises(TypeError, match="get_scoped_queryset"):

        class Leaky(Everything, ScopedModelViewSet):
            pass


def test_a_viewset_cannot_override_get_object():
    with pytest.raises(TypeError, match="lookup_field"):

        class Leaky(ScopedModelViewSet):
            def get_object(self):
                return None
