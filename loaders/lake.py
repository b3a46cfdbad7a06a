"""The lake: where raw files land, laid out as ``raw/<source>/<table>/ds=<YYYY-MM-DD>/``.

``Lake.from_url`` accepts ``file:///path`` (the local default) and ``s3://bucket/prefix`` and
gives one interface for writing a day's files and reading them back as streams. A day is
published whole: locally its files are written into a hidden folder renamed into place; on S3
the ``_manifest.json`` written last is the commit point (it lists the day's objects) and older
objects of the day are deleted after it. Writing a day again replaces it; readers go by the
manifest, so they never see half a day.

S3 credentials come from the client passed in (inside Airflow: the Amazon provider's hook for
an AWS connection) or from the usual AWS environment variables; an S3-compatible endpoint is
taken from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from loaders.errors import LoaderError, UnreachableError

MANIFEST = "_manifest.json"
S3_PART_SIZE = 8 << 20  # multipart chunk (S3 requires at least 5 MiB but for the last one)


def day_prefix(source: str, table: str, ds: str) -> str:
    return f"raw/{source}/{table}/ds={ds}"


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    modified: float  # seconds since the epoch


class Writable(Protocol):
    def write(self, data: bytes) -> Any: ...
    def close(self) -> None: ...


class Lake:
    """The interface both kinds of lake implement."""

    url: str

    @classmethod
    def from_url(cls, url: str, s3_client: Any = None) -> Lake:
        parsed = urlparse(url)
        if parsed.scheme == "s3":
            if not parsed.netloc:
                raise LoaderError(f"LAKE_URL={url!r}: name a bucket, e.g. s3://my-bucket/prefix")
            return S3Lake(parsed.netloc, parsed.path.strip("/"), s3_client)
        if parsed.scheme == "file":
            return LocalLake(Path(unquote(parsed.path)))
        if not parsed.scheme and url:
            return LocalLake(Path(url).resolve())
        raise LoaderError(f"LAKE_URL={url!r}: use file:///path/to/folder or s3://bucket/prefix")

    def uri(self, key: str) -> str:
        return f"{self.url}/{key}"

    def write_day(self, prefix: str) -> Any:  # a context manager yielding a DayWriter
        raise NotImplementedError

    def open_read(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo | None:
        """Size and modification time of one object, or None when there is none."""
        raise NotImplementedError

    def write_object(self, key: str, data: bytes) -> None:
        """Write one whole object (replacing it): small files such as the docs site."""
        raise NotImplementedError

    def read_manifest(self, prefix: str) -> dict:
        try:
            with self.open_read(f"{prefix}/{MANIFEST}") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            raise LoaderError(
                f"no {MANIFEST} in {self.uri(prefix)}: the day was never landed (or landing was "
                "interrupted); land it again"
            ) from None
        except json.JSONDecodeError as err:
            raise LoaderError(
                f"{self.uri(prefix)}/{MANIFEST} is not valid JSON ({err}); land the day again"
            ) from None


class DayWriter:
    """Collects the files of one day; ``open`` gives a binary writer for one file."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def open(self, name: str) -> Writable:
        raise NotImplementedError

    def object_name(self, name: str) -> str:
        """The name ``name`` is stored under inside the day (listed in the manifest)."""
        return name

    def write_json(self, name: str, document: dict) -> None:
        writer = self.open(name)
        writer.write((json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode())
        writer.close()


# --- local folder ----------------------------------------------------------------------------


class LocalLake(Lake):
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.url = root.as_uri()

    def local_path(self, key: str) -> Path:
        return self.root / key

    @contextmanager
    def write_day(self, prefix: str) -> Iterator[DayWriter]:
        final = self.root / prefix
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        staging.mkdir()
        try:
            yield _LocalDayWriter(staging, prefix)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)

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
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        staging.write_bytes(data)
        staging.replace(path)


class _LocalDayWriter(DayWriter):
    def __init__(self, folder: Path, prefix: str) -> None:
        super().__init__(prefix)
        self.folder = folder

    def open(self, name: str) -> Writable:
        return _DurableFile(self.folder / name)


class _DurableFile:
    """A file that is flushed to disk when closed (the day is published right after)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")

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
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.base = prefix
        self.url = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            self._client = boto3.client("s3", endpoint_url=endpoint or None)
        return self._client

    def key(self, key: str) -> str:
        return f"{self.base}/{key}" if self.base else key

    @contextmanager
    def write_day(self, prefix: str) -> Iterator[DayWriter]:
        writer = _S3DayWriter(self, prefix, uuid.uuid4().hex[:8])
        try:
            yield writer
        except BaseException:
            writer.discard()
            raise
        if MANIFEST not in writer.written:
            writer.discard()
            raise LoaderError(f"{self.uri(prefix)}: a day must end with its {MANIFEST}")
        # the manifest is in place: the day is published; remove what it does not list
        keep = {self.key(f"{prefix}/{name}") for name in writer.written.values()}
        stale = [k for k in self._list(self.key(prefix) + "/") if k not in keep]
        self._delete(stale)

    def open_read(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(key))["Body"]
            return io.BufferedReader(_ReadableBody(body), buffer_size=1 << 20)  # type: ignore[return-value]
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
        writer = _S3MultipartWriter(self, self.key(key))
        writer.write(data)
        writer.close()

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


class _S3DayWriter(DayWriter):
    def __init__(self, lake: S3Lake, prefix: str, token: str) -> None:
        super().__init__(prefix)
        self.lake = lake
        self.token = token
        self.written: dict[str, str] = {}  # logical name -> object name under the prefix

    def object_name(self, name: str) -> str:
        """Data files get a per-write token so a new day never overwrites the published one."""
        if name == MANIFEST:
            return name
        stem, dot, ext = name.partition(".")
        return f"{stem}-{self.token}{dot}{ext}"

    def open(self, name: str) -> Writable:
        object_name = self.object_name(name)
        self.written[name] = object_name
        return _S3MultipartWriter(self.lake, self.lake.key(f"{self.prefix}/{object_name}"))

    def discard(self) -> None:
        keys = [
            self.lake.key(f"{self.prefix}/{n}") for logical, n in self.written.items() if logical != MANIFEST
        ]
        # best effort: objects no manifest lists are removed by the next write of the day anyway
        with suppress(Exception):
            self.lake._delete(keys)


class _S3MultipartWriter:
    """Streams an object to S3 in parts, never holding more than one part in memory."""

    def __init__(self, lake: S3Lake, key: str) -> None:
        self.lake = lake
        self.key = key
        self._buffer = bytearray()
        self._parts: list[dict] = []
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
                self._upload_id = client.create_multipart_upload(Bucket=self.lake.bucket, Key=self.key)[
                    "UploadId"
                ]
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
                client.put_object(Bucket=self.lake.bucket, Key=self.key, Body=bytes(self._buffer))
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
