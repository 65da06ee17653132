"""Sessions and clients: credentials, profile and region the standard AWS way, adaptive retries,
an optional endpoint URL; or the local emulator with dummy credentials."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Iterator

import boto3
from botocore.config import Config

USER_AGENT = "cfn-strata/0.1.0"
DEFAULT_MAX_ATTEMPTS = 10


@dataclass
class Aws:
    """A boto3 session plus how clients are built from it (endpoint, retries). Clients are cached."""

    session: boto3.Session
    endpoint_url: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    local: bool = False
    _clients: dict = field(default_factory=dict, repr=False)
    region_name: str | None = None  # another region than the session's (a stack the deployer makes there)

    @property
    def region(self) -> str:
        return self.region_name or self.session.region_name

    def in_region(self, region: str) -> "Aws":
        """The same credentials, endpoint and retries, with clients in `region`."""
        return Aws(self.session, self.endpoint_url, self.max_attempts, self.local, region_name=region)

    def client(self, service: str):
        if service not in self._clients:
            config = Config(
                retries={"mode": "adaptive", "max_attempts": self.max_attempts},
                user_agent_extra=USER_AGENT,
                s3={"addressing_style": "path"} if self.local else None,
                max_pool_connections=16,
            )
            self._clients[service] = self.session.client(service, region_name=self.region, endpoint_url=self.endpoint_url, config=config)
        return self._clients[service]


def aws(region: str, profile: str | None = None, endpoint_url: str | None = None) -> Aws:
    """The standard chain (env, profile, SSO, instance role); `region` is required: the profile's."""
    return Aws(boto3.Session(profile_name=profile, region_name=region), endpoint_url)


@contextlib.contextmanager
def open_aws(region: str, *, profile: str | None, endpoint_url: str | None, local: bool) -> Iterator[Aws]:
    """Real AWS, or (local=True) moto in-process on a free loopback port, stopped on exit, with the
    emulated account kept in .cfn-strata/local/ under the current directory (deployer/local.py)."""
    if not local:
        yield aws(region, profile, endpoint_url)
        return
    from deployer.local import LOCAL_CREDENTIALS, LocalState, local_endpoint, state_folder

    # The emulator has its own credentials: a profile named by AWS_PROFILE / AWS_DEFAULT_PROFILE that
    # this machine does not have must not stop an offline run (boto3, and moto when it is imported,
    # would look it up), so both are set aside while local mode runs.
    saved = {name: os.environ.pop(name) for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if name in os.environ}
    try:
        with local_endpoint(LocalState(state_folder())) as endpoint:
            yield Aws(boto3.Session(region_name=region, **LOCAL_CREDENTIALS), endpoint.url, local=True)
    finally:
        os.environ.update(saved)
