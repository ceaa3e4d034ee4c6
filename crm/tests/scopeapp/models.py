"""A test-only owned model: the foundation's scope mechanism is proven on it before any domain
app exists. Installed only by crm.settings_test."""

from django.db import models

from staff.scope import OwnedModel


class Note(OwnedModel):
    title = models.CharField(max_length=100)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.title


class NoteLink(OwnedModel):
    """Points at a Note: proves that a foreign key outside the writer's scope is refused."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="links")
    comment = models.CharField(max_length=100, blank=True)
