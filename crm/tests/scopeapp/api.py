from rest_framework.routers import SimpleRouter

from crm.api.base import ScopedModelViewSet
from crm.api.filters import SyncFilterSet
from crm.api.serializers import OwnedModelSerializer, ScopedPrimaryKeyRelatedField
from crm.tests.scopeapp.models import Note, NoteLink


class NoteSerializer(OwnedModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "title", "owner", "department", "created_by", "updated_at"]


class NoteLinkSerializer(OwnedModelSerializer):
    note = ScopedPrimaryKeyRelatedField(model=Note)

    class Meta:
        model = NoteLink
        fields = ["id", "note", "comment", "owner", "department", "created_by"]


class NoteFilterSet(SyncFilterSet):
    class Meta:
        model = Note
        fields = ["owner", "department"]


class NoteViewSet(ScopedModelViewSet):
    model = Note
    serializer_class = NoteSerializer
    filterset_class = NoteFilterSet
    search_fields = ["title"]
    ordering_fields = ["id", "title", "updated_at"]

    def get_scoped_queryset(self, user):
        return Note.objects.visible_to(user)

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(owner=user, department=user.department, created_by=user)


class NoteLinkFilterSet(SyncFilterSet):
    class Meta:
        model = NoteLink
        fields = ["note"]


class NoteLinkViewSet(ScopedModelViewSet):
    model = NoteLink
    serializer_class = NoteLinkSerializer
    filterset_class = NoteLinkFilterSet

    def get_scoped_queryset(self, user):
        return NoteLink.objects.visible_to(user)

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(owner=user, department=user.department, created_by=user)


router = SimpleRouter()
router.register("test-notes", NoteViewSet, basename="test-note")
router.register("test-note-links", NoteLinkViewSet, basename="test-note-link")
urlpatterns = [*router.urls]
