"""Upload: every template under a content-addressed key (sha256 of its final bytes), HEAD first so
an unchanged template is never uploaded twice, children concurrently, then the root with its
TemplateURLs pointing at the uploaded children. Also writes the CodePipeline template
configuration for the environment."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from deployer.bundle import Bundle
from deployer.errors import DeployerError, error_code
from deployer.store import TemplateStore, root_with_urls  # noqa: F401 (re-exported)

SSE = "AES256"
TEMPLATE_CONFIGURATION = "template-configuration.json"


@dataclass(frozen=True)
class UploadedTemplate:
    file: str
    key: str
    url: str
    sha256: str
    uploaded: bool  # False when the key already existed


@dataclass(frozen=True)
class UploadResult:
    root: UploadedTemplate
    templates: tuple[UploadedTemplate, ...]  # root first
    configuration_file: Path
    store: TemplateStore | None = None  # where they went (documents go next to them)

    @property
    def uploaded_count(self) -> int:
        return sum(t.uploaded for t in self.templates)


def bucket_region(s3, bucket: str) -> str:
    """The bucket's region (and a clear error when it does not exist or is not ours)."""
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except ClientError as err:
        code = error_code(err)
        if code == "NoSuchBucket":
            raise DeployerError(
                f"bucket {bucket} does not exist: create it with `cfn-strata bootstrap --bucket "
                f"{bucket}` (or pass --create-bucket)"
            ) from err
        raise
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def _exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as err:
        code = error_code(err)
        if code in ("404", "NoSuchKey", "NotFound"):
            return False
        if code in ("403", "AccessDenied"):  # S3 answers 403 for a missing key without s3:ListBucket
            raise DeployerError(
                f"access denied on s3://{bucket}/{key}: the deployer needs s3:GetObject, s3:PutObject "
                "and s3:ListBucket on the template bucket"
            ) from err
        raise


def put_template(s3, store: TemplateStore, file: str, key: str, body: bytes) -> UploadedTemplate:
    sha256 = hashlib.sha256(body).hexdigest()
    uploaded = False
    if not _exists(s3, store.bucket, key):
        content_type = "application/json" if file.endswith(".json") else "application/x-yaml"
        s3.put_object(Bucket=store.bucket, Key=key, Body=body, ContentType=content_type, ServerSideEncryption=SSE)
        uploaded = True
    return UploadedTemplate(file, key, store.url(key), sha256, uploaded)


def template_configuration(bundle: Bundle) -> dict:
    """CodePipeline's template configuration: parameters, tags and a stack policy for the root
    that denies replacing or deleting a nested stack holding stateful resources."""
    return {"Parameters": bundle.parameters(), "Tags": bundle.tags, "StackPolicy": bundle.policies()["root"]}


def upload_bundle(
    s3, bundle: Bundle, store: TemplateStore, *, workers: int = 8, configuration: bool = True
) -> UploadResult:
    """Every template under its content-addressed key; the template configuration next to the
    bundle. configuration=False (the root's parameters from the us-east-1 global stack are not
    known yet, it does not exist): no configuration file, and a stale one is removed."""
    children = [s["file"] for s in bundle.nested_stacks]
    jobs = [(file, store.key(bundle, file, bundle.sha256(file)), bundle.files[file]) for file in children]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        uploaded_children = list(pool.map(lambda job: put_template(s3, store, *job), jobs))
    root_body = root_with_urls(bundle, {t.file: t.url for t in uploaded_children})
    root_key = store.key(bundle, bundle.root_file, hashlib.sha256(root_body).hexdigest())
    root = put_template(s3, store, bundle.root_file, root_key, root_body)
    configuration_file = bundle.folder / TEMPLATE_CONFIGURATION
    if configuration:
        configuration_file.write_text(json.dumps(template_configuration(bundle), indent=2, sort_keys=True) + "\n")
    else:
        configuration_file.unlink(missing_ok=True)
    return UploadResult(root, (root, *uploaded_children), configuration_file, store)


def put_document(s3, store: TemplateStore, bundle: Bundle, name: str, body: bytes, content_type: str) -> str:
    """A document (LAUNCH.md, a review page) next to the environment's templates, under a fixed
    name: the latest one wins. Returns its key."""
    key = f"{store.folder(bundle)}{name}"
    s3.put_object(Bucket=store.bucket, Key=key, Body=body, ContentType=content_type, ServerSideEncryption=SSE)
    return key


def presigned_url(s3, bucket: str, key: str, expires: int) -> str:
    """A GET link to a private object that works without AWS credentials for `expires` seconds
    (at most 7 days, and never longer than the credentials that sign it)."""
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
