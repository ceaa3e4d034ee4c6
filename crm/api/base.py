"""The protected base of every API viewset.

Subclasses never override ``get_queryset``: they implement ``get_scoped_queryset(user)``, which
must return the rows that user may see (normally a selector built on ``visible_to``). Defining
``get_queryset`` (or ``get_object``) anywhere in a subclass's MRO is a TypeError at import time,
so an endpoint cannot forget scope.
"""

from rest_framework import generics, mixins, viewsets


class ScopedViewSetMixin:
    #: The model, for permission checks and the schema; rows always come from get_scoped_queryset.
    model = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Checked on the resolved attributes (the whole MRO), so a mixin cannot slip past either.
        if cls.get_queryset is not ScopedViewSetMixin.get_queryset:
            raise TypeError(f"{cls.__name__} overrides get_queryset; implement get_scoped_queryset instead.")
        if cls.get_object is not generics.GenericAPIView.get_object:
            raise TypeError(f"{cls.__name__} overrides get_object; set lookup_field instead.")

    def base_queryset(self):
        return self.model._default_manager.none()

    def get_scoped_queryset(self, user):  # pragma: no cover - the contract
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.base_queryset()
        return self.get_scoped_queryset(self.request.user)


class ScopedGenericViewSet(ScopedViewSetMixin, viewsets.GenericViewSet):
    pass


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(
    ScopedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    pass
