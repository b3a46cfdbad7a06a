"""The lake: where raw files land, laid out as ``raw/<source>/<table>/ds=<YYYY-MM-DD>/``.

``Lake.from_url`` accepts ``file:///path`` (the local default) and ``s3://bucket/prefix`` and
gives one interface for writing a day's files and reading them back as streams.

**Versions of a day.** Every write of a day is a new *version* (a token that sorts by time,
always after the version it replaces). Its objects are named with the token
(``part-00000-<version>.csv.gz``) and its manifest is staged as ``_manifest-<version>.json``;
nothing of the published version is touched. The version is *published* by replacing
``_manifest.json``, the day's one commit point in the lake: one atomic rename locally, one
conditional PUT on S3 (``If-Match`` the manifest the writer started from, so of two concurrent
writers of a day one wins and the other fails cleanly). Readers go by ``_manifest.json``, so
they never see half a day. A version is *retired* (its objects deleted) only once a newer one
is published **and** committed in the warehouse (``retire``), so a crash anywhere leaves either
the old or the new version whole. The README's "The lake" section
gives the rule in full.

Local lake folders are private to their owner (0700, files 0600). On S3, objects are
encrypted at rest by the bucket's default; ``LAKE_S3_SSE=aws:kms`` (and ``LAKE_S3_KMS_KEY_ID``)
asks for KMS keys on every write.

S3 credentials come from the client passed in (inside Airflow: the Amazon provider's hook for
an AWS connection) or from the usual AWS environment variables; an S3-compatible endpoint is
taken from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from loaders import failpoints
from loaders.errors import LoaderError, UnreachableError

MANIFEST = "_manifest.json"
S3_PART_SIZE = 8 << 20  # multipart chunk (S3 requires at least 5 MiB but for the last one)
# objects of no published version (a writer that died) older than this are swept by the next write
ABANDONED_AFTER_SECONDS = 3600
DIR_MODE = 0o700
FILE_MODE = 0o600

# a version: UTC time to the microsecond and a random tag, e.g. 20261120T060102123456Z-3fa9c1
_VERSION = r"\d{8}T\d{12}Z-[0-9a-f]{6}"
_VERSIONED_NAME = re.compile(rf"^(?:_manifest|.+)-({_VERSION})(?:\..*)?$")
_VERSION_FORMAT = "%Y%m%dT%H%M%S%fZ"


def new_version(after: str | None = None) -> str:
    """A version token that sorts after ``after`` (the version being replaced), whatever the clock."""
    now = dt.datetime.now(dt.UTC)
    if after:
        with suppress(ValueError):
            previous = dt.datetime.strptime(after[:22], _VERSION_FORMAT).replace(tzinfo=dt.UTC)
            now = max(now, previous + dt.timedelta(microseconds=1))
    return f"{now.strftime(_VERSION_FORMAT)}-{secrets.token_hex(3)}"


def version_of(name: str) -> str | None:
    """The version an object of a day belongs to (None: not a versioned object)."""
    match = _VERSIONED_NAME.match(name)
    return match.group(1) if match else None


def staged_manifest_name(version: str) -> str:
    return f"_manifest-{version}.json"


def version_age_seconds(version: str) -> float:
    try:
        made = dt.datetime.strptime(version[:22], _VERSION_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return float("inf")
    return (dt.datetime.now(dt.UTC) - made).total_seconds()


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    modified: float  # seconds since the epoch


@dataclass(frozen=True)
class Published:
    """What ``_manifest.json`` of a day says now, and the tag a conditional replace must match."""

    version: str | None  # None: a manifest from before versions (or none at all)
    tag: str | None  # None: the day has no manifest
    document: dict[str, Any] | None


class Writable(Protocol):
    def write(self, data: bytes) -> Any: ...
    def close(self) -> None: ...


class ConcurrentWriteError(LoaderError):
    """Another writer published the day while this one was writing it; nothing of this write stays."""


class Lake:
    """The interface both kinds of lake implement."""

    url: str

    @classmethod
    def from_url(cls, url: str, s3_client: Any = None) -> Lake:
        parsed = urlparse(url)
        if parsed.scheme == "s3":
            if not parsed.netloc:
                raise LoaderError(f"LAKE_URL={url!r}: name a bucket, e.g. s3://my-bucket/prefix")
            return S3Lake(parsed.netloc, parsed.path.strip("/"), s3_client, _sse_from_env())
        if parsed.scheme == "file":
            return LocalLake(Path(unquote(parsed.path)))
        if not parsed.scheme and url:
            return LocalLake(Path(url).resolve())
        raise LoaderError(f"LAKE_URL={url!r}: use file:///path/to/folder or s3://bucket/prefix")

    def uri(self, key: str) -> str:
        return f"{self.url}/{key}"

    # --- what each kind of lake provides ---

    def open_read(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo | None:
        """Size and modification time of one object, or None when there is none."""
        raise NotImplementedError

    def write_object(self, key: str, data: bytes) -> None:
        """Write one whole object (replacing it): small files such as the docs site."""
        raise NotImplementedError

    def list_day(self, prefix: str) -> list[str]:
        """The names of the objects of a day (its folder's files; no hidden ones)."""
        raise NotImplementedError

    def delete_day_objects(self, prefix: str, names: list[str]) -> None:
        raise NotImplementedError

    def published(self, prefix: str) -> Published:
        raise NotImplementedError

    def _replace_manifest(self, prefix: str, data: bytes, expect: Published) -> None:
        """Make ``data`` the day's ``_manifest.json`` if it still is ``expect``; else ConcurrentWriteError."""
        raise NotImplementedError

    def _open_new(self, key: str) -> Writable:
        raise NotImplementedError

    @contextmanager
    def day_lock(self, prefix: str) -> Iterator[None]:
        """Writers of one day on one machine wait for each other (S3: conditional publish only)."""
        yield

    # --- the protocol, the same for every lake ---

    @contextmanager
    def write_day(self, prefix: str, *, publish: bool = True) -> Iterator[DayWriter]:
        """Write a new version of a day. It is published when the block ends (``publish=False``:
        staged only; the caller publishes it with ``publish_version`` once the warehouse has
        committed it). On an error the version's objects are removed, unless the writer was told
        (``keep_on_error``) that the warehouse may already hold it."""
        with self.day_lock(prefix):
            current = self.published(prefix)
            writer = DayWriter(self, prefix, new_version(current.version), current)
            self._sweep_abandoned(prefix, current)
            try:
                yield writer
            except BaseException:
                if not writer.keep_on_error:
                    writer.discard()
                raise
            if writer.staged is None:
                writer.discard()
                raise LoaderError(f"{self.uri(prefix)}: a day must end with its {MANIFEST}")
            if publish:
                try:
                    self.publish_version(prefix, writer.version, expect=current)
                except ConcurrentWriteError:
                    writer.discard()
                    raise

    def read_manifest(self, prefix: str) -> dict[str, Any]:
        return self._read_json(prefix, MANIFEST, "the day was never landed (or landing was interrupted)")

    def read_version_manifest(self, prefix: str, version: str) -> object | None:
        """The staged manifest of one version (as parsed: the loaders wrote a JSON object), or None
        when that version is not (or no longer) here."""
        try:
            with self.open_read(f"{prefix}/{staged_manifest_name(version)}") as f:
                document: object = json.loads(f.read())
                return document
        except (
            FileNotFoundError,
            IsADirectoryError,
            json.JSONDecodeError,
            UnicodeDecodeError,
            RecursionError,
        ):
            return None

    def publish_version(self, prefix: str, version: str, *, expect: Published | None = None) -> None:
        """Make a staged version the day's published one (the lake's commit point)."""
        key = f"{prefix}/{staged_manifest_name(version)}"
        try:
            with self.open_read(key) as f:
                data = f.read()
        except FileNotFoundError:
            now = self.published(prefix)
            if now.version is not None and now.version > version:
                # a writer that published a newer version retired this older one meanwhile
                raise ConcurrentWriteError(
                    f"{self.uri(prefix)} was published by another writer while this one wrote it; "
                    "this write was discarded (run it again if its file should win)"
                ) from None
            raise LoaderError(f"{self.uri(key)} is missing: version {version} cannot be published") from None
        current = expect if expect is not None else self.published(prefix)
        if current.version == version:
            return
        self._replace_manifest(prefix, data, current)
        failpoints.reached("lake:published")

    def retire(self, prefix: str, keep: str, *, spare: str | None = None) -> list[str]:
        """Delete the objects of versions older than ``keep`` (the version published and held by
        the warehouse), but ``spare`` (on a lake-first landing: the version it replaced, which the
        warehouse may still hold), and objects of no version (from before versions). Returns the
        names deleted."""
        names = self.list_day(prefix)
        listed = _listed_names(self.published(prefix).document)
        doomed = [
            n for n in names
            if n != MANIFEST and n not in listed
            and ((v := version_of(n)) is None or (v < keep and v != spare))
        ]  # fmt: skip
        self.delete_day_objects(prefix, doomed)
        return doomed

    def _sweep_abandoned(self, prefix: str, current: Published) -> None:
        """Remove what writers that died left behind: versions newer than the published one that
        were never published, once they are old enough that no writer can still be at work."""
        for version in {version_of(n) for n in self.list_day(prefix)} - {None, current.version}:
            assert version is not None
            if (current.version is None or version > current.version) and (
                version_age_seconds(version) > ABANDONED_AFTER_SECONDS
            ):
                self.delete_day_objects(
                    prefix, [n for n in self.list_day(prefix) if version_of(n) == version]
                )

    def _read_json(self, prefix: str, name: str, missing: str) -> dict[str, Any]:
        try:
            with self.open_read(f"{prefix}/{name}") as f:
                document = json.loads(f.read())
        except FileNotFoundError:
            raise LoaderError(f"no {name} in {self.uri(prefix)}: {missing}; land it again") from None
        except IsADirectoryError:
            raise LoaderError(
                f"{self.uri(prefix)}/{name} is a folder, not a manifest; land the day again"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
            what = "nested too deep" if isinstance(err, RecursionError) else str(err)
            raise LoaderError(
                f"{self.uri(prefix)}/{name} is not valid JSON ({what}); land the day again"
            ) from None
        if not isinstance(document, dict):
            raise LoaderError(
                f"{self.uri(prefix)}/{name} is not a manifest (a JSON {type(document).__name__}, "
                "not an object); land the day again"
            )
        return document


def _listed_names(document: dict[str, Any] | None) -> set[str]:
    """The object names a manifest lists (its parts and its rejects)."""
    if not isinstance(document, dict):
        return set()
    entries = list(document.get("parts") or []) if isinstance(document.get("parts"), list) else []
    if isinstance(document.get("rejects"), dict):
        entries.append(document["rejects"])
    return {e["key"] for e in entries if isinstance(e, dict) and isinstance(e.get("key"), str)}


@dataclass
class DayWriter:
    """The files of one new version of a day; ``open`` gives a binary writer for one file."""

    lake: Lake
    prefix: str
    version: str
    replaces: Published
    written: list[str] = field(default_factory=list)
    staged: dict[str, Any] | None = None
    keep_on_error: bool = False

    def object_name(self, name: str) -> str:
        """The name ``name`` is stored under in this version (listed in the manifest)."""
        stem, dot, ext = name.partition(".")
        return f"{stem}-{self.version}{dot}{ext}"

    def open(self, name: str) -> Writable:
        object_name = self.object_name(name)
        self.written.append(object_name)
        return self.lake._open_new(f"{self.prefix}/{object_name}")

    def stage_manifest(self, document: dict[str, Any]) -> None:
        """Write the version's manifest (staged: published by ``write_day`` or ``publish_version``)."""
        document = {**document, "version": self.version}
        name = staged_manifest_name(self.version)
        self.written.append(name)
        writer = self.lake._open_new(f"{self.prefix}/{name}")
        writer.write((json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode())
        writer.close()
        self.staged = document

    def discard(self) -> None:
        # best effort: what a dead writer leaves is swept by a later write of the day
        with suppress(Exception):
            self.lake.delete_day_objects(self.prefix, self.written)


def _sse_from_env() -> dict[str, str]:
    kind = os.environ.get("LAKE_S3_SSE", "").strip()
    if not kind:
        return {}
    if kind not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise LoaderError(f"LAKE_S3_SSE={kind!r}: use AES256, aws:kms or aws:kms:dsse (or leave it unset)")
    extra = {"ServerSideEncryption": kind}
    if key := os.environ.get("LAKE_S3_KMS_KEY_ID", "").strip():
        extra["SSEKMSKeyId"] = key
    return extra


# --- local folder ----------------------------------------------------------------------------


class LocalLake(Lake):
    def __init__(self, root: Path) -> None:
        _make_private_dirs(root)
        self.root = root
        self.url = root.as_uri()

    def local_path(self, key: str) -> Path:
        return self.root / key

    @contextmanager
    def day_lock(self, prefix: str) -> Iterator[None]:
        folder = self.root / prefix
        _make_private_dirs(folder)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
            yield
        finally:
            os.close(fd)

    def open_read(self, key: str) -> BinaryIO:
        return (self.root / key).open("rb")

    def stat(self, key: str) -> ObjectInfo | None:
        path = self.root / key
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        if not path.is_file():
            return None
        return ObjectInfo(self.uri(key), info.st_size, info.st_mtime)

    def write_object(self, key: str, data: bytes) -> None:
        path = self.root / key
        _make_private_dirs(path.parent)
        staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        writer = _DurableFile(staging)
        writer.write(data)
        writer.close()
        staging.replace(path)

    def list_day(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and p.is_file())

    def delete_day_objects(self, prefix: str, names: list[str]) -> None:
        for name in names:
            with suppress(FileNotFoundError):
                (self.root / prefix / name).unlink()

    def published(self, prefix: str) -> Published:
        path = self.root / prefix / MANIFEST
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return Published(None, None, None)
        except IsADirectoryError:
            raise LoaderError(
                f"{self.uri(prefix)}/{MANIFEST} is a folder, not a manifest; remove it"
            ) from None
        document = _parse_or_none(data)
        version = document.get("version") if isinstance(document, dict) else None
        return Published(
            version if isinstance(version, str) else None, str(path.stat().st_mtime_ns), document
        )

    def _replace_manifest(self, prefix: str, data: bytes, expect: Published) -> None:
        now = self.published(prefix)
        if (now.tag, now.version) != (expect.tag, expect.version):
            raise ConcurrentWriteError(
                f"{self.uri(prefix)} was published by another writer while this one wrote it; "
                "this write was discarded (run it again if its file should win)"
            )
        folder = self.root / prefix
        staging = folder / f".{MANIFEST}.{secrets.token_hex(4)}.tmp"
        writer = _DurableFile(staging)
        writer.write(data)
        writer.close()
        staging.replace(folder / MANIFEST)  # the commit point: one atomic rename
        _fsync_dir(folder)

    def _open_new(self, key: str) -> Writable:
        path = self.root / key
        _make_private_dirs(path.parent)
        return _DurableFile(path)

    def _sweep_abandoned(self, prefix: str, current: Published) -> None:
        super()._sweep_abandoned(prefix, current)
        # what a writer that died mid-rename left (the hidden .tmp/.old folders of a day, from
        # before versions; a manifest's .tmp file), once old enough to be nobody's work
        folder = self.root / prefix
        cutoff = time.time() - ABANDONED_AFTER_SECONDS
        leftovers = [*folder.parent.glob(f".{folder.name}.*.tmp"), *folder.parent.glob(f".{folder.name}.*.old"),
                     *folder.glob(f".{MANIFEST}.*.tmp")]  # fmt: skip
        for path in leftovers:
            with suppress(OSError):
                if path.lstat().st_mtime < cutoff:
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents owner-only; folders that exist are left as they are."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for path in reversed(missing):
        with suppress(FileExistsError):
            path.mkdir(mode=DIR_MODE)
    if not folder.is_dir():
        raise LoaderError(f"{folder} is not a folder; fix LAKE_URL")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None


class _DurableFile:
    """A new owner-only file, flushed to disk when closed (it may be published right after)."""

    def __init__(self, path: Path) -> None:
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb")

    def write(self, data: bytes) -> int:
        return self._file.write(data)

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def abort(self) -> None:
        self._file.close()


# --- S3 --------------------------------------------------------------------------------------


class S3Lake(Lake):
    def __init__(
        self, bucket: str, prefix: str, client: Any = None, sse: dict[str, str] | None = None
    ) -> None:
        self.bucket = bucket
        self.base = prefix
        self.url = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
        self._client = client
        self.sse = sse or {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            self._client = boto3.client("s3", endpoint_url=endpoint or None)
        return self._client

    def key(self, key: str) -> str:
        return f"{self.base}/{key}" if self.base else key

    def open_read(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(key))["Body"]
            return io.BufferedReader(_ReadableBody(body), buffer_size=1 << 20)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise FileNotFoundError(self.uri(key)) from None
            raise _s3_error(err, self.uri(key)) from None
        except Exception as err:  # endpoint unreachable and the like
            raise _s3_error(err, self.uri(key)) from None

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(key))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise _s3_error(err, self.uri(key)) from None
        except Exception as err:  # endpoint unreachable and the like
            raise _s3_error(err, self.uri(key)) from None
        return ObjectInfo(self.uri(key), int(head["ContentLength"]), head["LastModified"].timestamp())

    def write_object(self, key: str, data: bytes) -> None:
        writer = self._open_new(key)
        writer.write(data)
        writer.close()

    def list_day(self, prefix: str) -> list[str]:
        folder = self.key(prefix) + "/"
        return sorted(k[len(folder) :] for k in self._list(folder) if "/" not in k[len(folder) :])

    def delete_day_objects(self, prefix: str, names: list[str]) -> None:
        self._delete([self.key(f"{prefix}/{name}") for name in names])

    def published(self, prefix: str) -> Published:
        from botocore.exceptions import ClientError

        key = self.key(f"{prefix}/{MANIFEST}")
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
            data = answer["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404"):
                return Published(None, None, None)
            raise _s3_error(err, self.uri(f"{prefix}/{MANIFEST}")) from None
        except Exception as err:
            raise _s3_error(err, self.uri(f"{prefix}/{MANIFEST}")) from None
        document = _parse_or_none(data)
        version = document.get("version") if isinstance(document, dict) else None
        return Published(version if isinstance(version, str) else None, answer["ETag"], document)

    def _replace_manifest(self, prefix: str, data: bytes, expect: Published) -> None:
        from botocore.exceptions import ClientError

        condition = {"IfMatch": expect.tag} if expect.tag else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key(f"{prefix}/{MANIFEST}"), Body=data, **condition, **self.sse
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code", "") in (
                "PreconditionFailed", "412", "ConditionalRequestConflict", "409",
            ):  # fmt: skip
                raise ConcurrentWriteError(
                    f"{self.uri(prefix)} was published by another writer while this one wrote it; "
                    "this write was discarded (run it again if its file should win)"
                ) from None
            raise _s3_error(err, self.uri(f"{prefix}/{MANIFEST}")) from None
        except Exception as err:
            raise _s3_error(err, self.uri(f"{prefix}/{MANIFEST}")) from None

    def _open_new(self, key: str) -> Writable:
        return _S3MultipartWriter(self, self.key(key))

    def _sweep_abandoned(self, prefix: str, current: Published) -> None:
        super()._sweep_abandoned(prefix, current)
        # multipart uploads a dead writer never completed or aborted (billed until aborted)
        with suppress(Exception):
            answer = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.key(prefix) + "/")
            for upload in answer.get("Uploads", []):
                age = dt.datetime.now(dt.UTC) - upload["Initiated"]
                if age.total_seconds() > ABANDONED_AFTER_SECONDS:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )

    def _list(self, prefix: str) -> list[str]:
        from botocore.exceptions import ClientError

        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except ClientError as err:
            raise _s3_error(err, f"s3://{self.bucket}/{prefix}") from None
        except Exception as err:
            raise _s3_error(err, f"s3://{self.bucket}/{prefix}") from None
        return keys

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch]})


class _ReadableBody(io.RawIOBase):
    """botocore's streaming body as a raw stream, so it can be buffered (``readline``)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class _S3MultipartWriter:
    """Streams an object to S3 in parts, never holding more than one part in memory."""

    def __init__(self, lake: S3Lake, key: str) -> None:
        self.lake = lake
        self.key = key
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= S3_PART_SIZE:
            self._flush_part()
        return len(data)

    def _flush_part(self) -> None:
        from botocore.exceptions import ClientError

        client = self.lake.client
        try:
            if self._upload_id is None:
                self._upload_id = client.create_multipart_upload(
                    Bucket=self.lake.bucket, Key=self.key, **self.lake.sse
                )["UploadId"]
            number = len(self._parts) + 1
            answer = client.upload_part(
                Bucket=self.lake.bucket, Key=self.key, UploadId=self._upload_id,
                PartNumber=number, Body=bytes(self._buffer),
            )  # fmt: skip
        except ClientError as err:
            self.abort()
            raise _s3_error(err, f"s3://{self.lake.bucket}/{self.key}") from None
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self._buffer.clear()

    def close(self) -> None:
        from botocore.exceptions import ClientError

        client = self.lake.client
        try:
            if self._upload_id is None:  # small object: one PUT
                client.put_object(
                    Bucket=self.lake.bucket, Key=self.key, Body=bytes(self._buffer), **self.lake.sse
                )
            else:
                if self._buffer:
                    self._flush_part()
                client.complete_multipart_upload(
                    Bucket=self.lake.bucket, Key=self.key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )  # fmt: skip
        except ClientError as err:
            self.abort()
            raise _s3_error(err, f"s3://{self.lake.bucket}/{self.key}") from None
        except Exception as err:
            raise _s3_error(err, f"s3://{self.lake.bucket}/{self.key}") from None

    def abort(self) -> None:
        if self._upload_id is not None:
            with suppress(Exception):
                self.lake.client.abort_multipart_upload(
                    Bucket=self.lake.bucket, Key=self.key, UploadId=self._upload_id
                )
            self._upload_id = None


def _s3_error(err: Exception, where: str) -> LoaderError:
    response = getattr(err, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return LoaderError(
            f"access to {where} denied ({code}); check the AWS credentials (Airflow connection or "
            "AWS_* variables) and the bucket policy"
        )
    if code in ("NoSuchBucket",):
        return LoaderError(f"{where}: the bucket does not exist; create it or fix LAKE_URL")
    if code:
        return LoaderError(f"{where}: S3 answered {code}: {response.get('Error', {}).get('Message', '')}")
    return UnreachableError(
        f"cannot reach S3 for {where} ({type(err).__name__}: {err}); check AWS_ENDPOINT_URL_S3 / the network"
    )
