"""Saving uploaded files together with the rows that point at them.

Files live in storage, rows in the database; a transaction only covers the rows. Inside
:func:`files_with_rows`, every file saved through ``save`` is deleted again if the block
fails, so a refused or failed request leaves neither rows nor files behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile


@contextlib.contextmanager
def files_with_rows() -> Iterator[Callable[[FieldFile, str, bytes], None]]:
    saved: list[FieldFile] = []

    def save(field: FieldFile, name: str, content: bytes) -> None:
        field.save(name, ContentFile(content), save=False)
        saved.append(field)

    try:
        with transaction.atomic():
            yield save
    except BaseException:
        for field in saved:
            field.storage.delete(field.name)
        raise
