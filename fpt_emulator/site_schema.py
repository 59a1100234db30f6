"""A studio's own site schema, from files: so plugins are tested against the fields the studio has.

``shotgun_api3.lib.mockgun.generate_schema(sg, schema_path, schema_entity_path)`` (or
``shotgun-events schema-dump``) writes a site's ``schema_read()`` and ``schema_entity_read()``
answers as two pickles; their JSON works too. Pickles are read with an allow-list that admits
no class at all (a schema is plain dicts, lists and strings), so a file can never run code.
"""

from __future__ import annotations

import functools
import io
import json
import pickle
from pathlib import Path
from typing import Any

from .schema import Schema

#: The file pairs looked for in a directory: mockgun's names, then the JSON answers' names.
SCHEMA_FILES = (
    ("schema.pickle", "schema_entity.pickle"),
    ("schema_read.json", "schema_entity_read.json"),
)
#: Larger files are refused before they are read (a real site's schema is a few MB).
MAX_FILE_BYTES = 200 * 1024 * 1024


class SchemaFileError(ValueError):
    """A schema file is missing or not a site schema; the message names the file and the problem."""


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise SchemaFileError(
            f"holds an object of class {module}.{name}; a schema file holds only plain data"
        )


def _read(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SchemaFileError(f"{path}: {size} bytes is too large for a schema file")
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if raw[:1] == b"\x80" or path.suffix in (".pickle", ".pkl"):
        try:
            return _PlainDataUnpickler(io.BytesIO(raw), encoding="utf-8").load()
        except SchemaFileError as exc:
            raise SchemaFileError(f"{path}: {exc}") from None
        except Exception as exc:
            raise SchemaFileError(f"{path}: not a readable pickle ({exc})") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SchemaFileError(f"{path}: neither a pickle nor JSON ({exc})") from None


def schema_paths(path: str | Path, entity_path: str | Path | None = None) -> tuple[Path, Path | None]:
    """The schema file and entity schema file ``path`` stands for (a directory or the schema file)."""
    path = Path(path)
    if path.is_dir():
        for schema_name, entity_name in SCHEMA_FILES:
            if (path / schema_name).is_file():
                return path / schema_name, Path(entity_path) if entity_path else path / entity_name
        names = ", ".join(" + ".join(pair) for pair in SCHEMA_FILES)
        raise SchemaFileError(f"{path}: no schema files in this directory (expected {names})")
    if not path.is_file():
        raise SchemaFileError(f"{path}: no such schema file or directory")
    if entity_path is not None:
        return path, Path(entity_path)
    for schema_name, entity_name in SCHEMA_FILES:
        if path.name == schema_name:
            return path, path.with_name(entity_name)
    return path, None


def load_site_schema(path: str | Path, entity_path: str | Path | None = None) -> Schema:
    """A site's schema from its files; each emulator gets its own copy (the files are read once).

    ``path`` is a directory holding one of the pairs in :data:`SCHEMA_FILES`, or the schema file
    itself (its entity schema is found beside it under the matching name, or given as
    ``entity_path``; without one, entity types are named by their type). Raises
    :class:`SchemaFileError`.
    """
    schema_file, entity_file = schema_paths(path, entity_path)
    if entity_file is not None and not entity_file.is_file():
        if entity_path is not None:
            raise SchemaFileError(f"{entity_file}: no such entity schema file")
        entity_file = None
    return _load(*_identity(schema_file), *(_identity(entity_file) if entity_file else ("", 0, 0))).copy()


def _identity(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _load(
    schema_file: str,
    schema_mtime: int,
    schema_size: int,
    entity_file: str,
    entity_mtime: int,
    entity_size: int,
) -> Schema:
    fields = _read(Path(schema_file))
    entities = _read(Path(entity_file)) if entity_file else {}
    try:
        return Schema.from_wire(fields, entities)
    except ValueError as exc:
        raise SchemaFileError(f"{schema_file}: not a schema_read() answer: {exc}") from None
