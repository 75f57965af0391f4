"""Where the months are kept (Variable `scorecard_output_dir`): a local folder or an object store.

A plain path or a `file://` URL is a local folder (`pathlib.Path`), where a month is built in a
hidden sibling folder and renamed into place — atomic on one file system. Any other URL is an
Airflow `ObjectStoragePath`, e.g. `s3://aws_default@bucket/prefix` (the connection before the
`@` gives the credentials and the endpoint), for workers that share no disk: there nothing can
be renamed, so a month is published by copying with its manifest written last
(month_folder.publish, docs/runbook.md "How to point outputs at object storage").

Both kinds answer the same pathlib calls (`/`, `read_bytes`, `write_bytes`, `open`, `glob`),
which is all that readers need; the few operations that differ between them live here.
Documents are always rendered into a local folder first (WeasyPrint writes files) and put
into the store whole: an object appears complete or not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from airflow.sdk import ObjectStoragePath

Location = Path | ObjectStoragePath
LOCAL_SCHEMES = ("", "file")


def location(value: str) -> Location:
    """The location a setting names: a local Path for a plain path or file:// URL, else an ObjectStoragePath."""
    from airflow.sdk.io.fs import has_fs

    url = urlsplit(value)
    if url.scheme in LOCAL_SCHEMES:
        return Path(url.path if url.scheme else value)
    if not has_fs(url.scheme):
        raise ValueError(f"{value!r}: no Airflow filesystem for '{url.scheme}://' is installed "
                         "(s3:// comes with apache-airflow-providers-amazon[s3fs]; a local folder is a plain "
                         "path or file:///absolute/path)")
    return ObjectStoragePath(value)


def is_local(loc: Location) -> bool:
    return isinstance(loc, Path)


def is_hidden(relative: str) -> bool:
    """A hidden name anywhere in the path: another writer's temporary file, or a build not yet published."""
    return any(part.startswith(".") for part in relative.split("/"))


def listing(folder: Location) -> dict[str, int]:
    """Every visible file under `folder`, as relative POSIX path -> size in bytes."""
    if is_local(folder):
        found = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")}
        return {rel: found[rel].stat().st_size for rel in sorted(found, key=_parts)
                if not is_hidden(rel) and found[rel].is_file()}
    root = folder.path.rstrip("/")
    refresh(folder)
    found = folder.fs.find(root, detail=True)
    files = {name[len(root) + 1:]: int(info["size"]) for name, info in found.items() if info["type"] == "file"}
    return {rel: files[rel] for rel in sorted(files, key=_parts) if not is_hidden(rel)}


def _parts(relative: str) -> list[str]:
    return relative.split("/")  # folder by folder, as pathlib sorts


def refresh(folder: Location) -> None:
    """Forget what this process has cached about `folder`: another process may have written since."""
    if not is_local(folder):
        folder.fs.invalidate_cache()  # all of it: s3fs would keep the listings of sub-folders


def write_whole(dest: Location, data: bytes) -> None:
    """Replace `dest` whole: a reader sees the old bytes or the new ones, never a part.

    Locally through a temporary file of this writer's own (hidden, so every lister skips it)
    and a rename; an object store replaces an object in one request.
    """
    if not is_local(dest):
        dest.write_bytes(data)
        return
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def copy(src: ObjectStoragePath, dest: ObjectStoragePath) -> None:
    """One object to another key of the same store, server-side (a local folder renames instead)."""
    src.fs.copy(src.path, dest.path)


def remove(loc: Location) -> None:
    """A folder (or prefix) and everything in it; nothing happens when it is not there."""
    if is_local(loc):
        shutil.rmtree(loc, ignore_errors=True)
    elif loc.fs.exists(loc.path):
        loc.fs.rm(loc.path, recursive=True)


def put_tree(local: Path, dest: ObjectStoragePath) -> None:
    """Every file under the local folder `local` into the store under `dest`, one object per file."""
    for rel in listing(local):
        dest.fs.put_file(str(local / rel), (dest / rel).path)


@contextmanager
def building(dest: Location) -> Iterator[Path]:
    """A local folder to write documents into, that ends up in `dest`.

    `dest` itself when it is local (created if need be); otherwise a temporary folder whose
    files are put into the store once the block succeeds, and which is removed either way.
    """
    if is_local(dest):
        dest.mkdir(parents=True, exist_ok=True)
        yield dest
        return
    with tempfile.TemporaryDirectory(prefix="tthc-build-") as tmp:
        yield Path(tmp)
        put_tree(Path(tmp), dest)
