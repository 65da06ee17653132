"""Where templates live in S3 and what their URLs are: pure string and hash work, no AWS calls,
so `cfn-strata docs` can print the URLs `upload` would produce without uploading."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from deployer.bundle import Bundle
from deployer.errors import DeployerError


@dataclass(frozen=True)
class TemplateStore:
    """Where templates go. `global_urls`: https://<bucket>.s3.amazonaws.com/<key> (what moto
    needs); otherwise virtual-hosted-style URLs for the bucket's region."""

    bucket: str
    prefix: str
    region: str
    global_urls: bool = False

    def folder(self, bundle: Bundle) -> str:
        """<prefix>/<app>/<env>/ (<env>.<suffix>/ with --suffix): where the deployment's templates
        and documents go, so a per-PR deployment's LAUNCH.md and review pages never replace the
        environment's."""
        prefix = f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""
        return f"{prefix}{bundle.manifest['application']}/{bundle.deployment}/"

    def key(self, bundle: Bundle, file: str, sha256: str) -> str:
        stem, _, ext = file.rpartition(".")
        return f"{self.folder(bundle)}{stem}.{sha256}.{ext}"

    def url(self, key: str) -> str:
        host = (
            f"{self.bucket}.s3.amazonaws.com"
            if self.global_urls or self.region == "us-east-1"
            else f"{self.bucket}.s3.{self.region}.amazonaws.com"
        )
        return f"https://{host}/{key}"


def root_with_urls(bundle: Bundle, child_urls: dict[str, str]) -> bytes:
    """The root template with each nested stack's TemplateURL set to its uploaded child's URL."""
    from templates.render import serialize

    document = bundle.document(bundle.root_file)
    for resource in document.get("Resources", {}).values():
        if resource.get("Type") == "AWS::CloudFormation::Stack":
            relative = resource["Properties"]["TemplateURL"]
            if relative not in child_urls:
                raise DeployerError(f"the root refers to {relative}, which is not in {bundle.folder}")
            resource["Properties"]["TemplateURL"] = child_urls[relative]
    return serialize(document, bundle.manifest.get("format", "json"))


def planned_urls(bundle: Bundle, store: TemplateStore) -> dict[str, str]:
    """File -> the URL `upload` puts it at (content-addressed: children by their bytes, the root by
    its bytes after its TemplateURLs point at the children)."""
    children = {
        s["file"]: store.url(store.key(bundle, s["file"], bundle.sha256(s["file"]))) for s in bundle.nested_stacks
    }
    root_body = root_with_urls(bundle, children)
    root = store.url(store.key(bundle, bundle.root_file, hashlib.sha256(root_body).hexdigest()))
    return {bundle.root_file: root, **children}
