"""Local paths and S3 URIs behind one interface (`pyarrow.fs`).

`resolve("s3://bucket/prefix")` uses pyarrow's S3 filesystem; the endpoint of an S3-compatible
server (MinIO, moto, Ceph) comes from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, credentials
from the usual AWS variables. Anything else is a local path.
"""
from __future__ import annotations

import os
from pathlib import Path

from pyarrow import fs as pafs


def is_remote(uri: str | Path) -> bool:
    return "://" in str(uri) and not str(uri).startswith("file://")


def resolve(uri: str | Path) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path, file:// or s3:// URI."""
    uri = str(uri)
    if uri.startswith("s3://"):
        return s3_filesystem(), uri[len("s3://"):].rstrip("/")
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if "://" in uri:
        raise ValueError(f"{uri}: unsupported URI scheme; use a local path or s3://bucket/prefix")
    return pafs.LocalFileSystem(), str(Path(uri).resolve())


def s3_filesystem() -> pafs.S3FileSystem:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict = {"region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
        kwargs["allow_bucket_creation"] = True
    return pafs.S3FileSystem(**kwargs)


def join(base: str, *names: str) -> str:
    return "/".join([base.rstrip("/"), *names])


def exists(filesystem: pafs.FileSystem, path: str) -> bool:
    return filesystem.get_file_info(path).type != pafs.FileType.NotFound


def read_bytes(filesystem: pafs.FileSystem, path: str) -> bytes:
    with filesystem.open_input_stream(path) as f:
        return f.read()


def write_bytes(filesystem: pafs.FileSystem, path: str, data: bytes) -> None:
    """Write a whole object (S3 PUT is atomic; local files go through a temp name)."""
    if isinstance(filesystem, pafs.LocalFileSystem):
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)
        return
    with filesystem.open_output_stream(path) as f:
        f.write(data)


def put_if_absent_s3(path: str, data: bytes) -> None:
    """PUT `bucket/key` only if no object exists there (`If-None-Match: *`), atomically on the server:
    of two concurrent writers exactly one succeeds; the other gets FileExistsError."""
    from partverse.extras import require

    require("boto3", "s3")
    import boto3
    from botocore.exceptions import ClientError

    bucket, _, key = path.partition("/")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    client = boto3.client("s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            raise FileExistsError(f"s3://{path} already exists") from exc
        raise
