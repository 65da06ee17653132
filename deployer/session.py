"""Sessions and clients: credentials, profile and region the standard AWS way, adaptive retries,
an optional endpoint URL; or the local emulator with dummy credentials."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import boto3
from botocore.config import Config

from deployer.errors import connection_refused

USER_AGENT = "cfn-strata/0.1.0"
DEFAULT_MAX_ATTEMPTS = 10
# An endpoint that refuses the connection has nothing listening (a wrong --endpoint-url, a stopped
# emulator, a proxy that is down): one retry covers a restart, the adaptive mode's ten attempts
# with backoff took 36 s of silence. Other connection failures (timeouts, resets) keep the ten.
REFUSED_ATTEMPTS = 2
# botocore waits 60 s for a TCP connection by default; an AWS endpoint answers in well under a second.
CONNECT_TIMEOUT = 5


class RetryWatch:
    """A `needs-retry` handler that runs before botocore's own: it reports every retry after a
    connection failure (so the user sees progress instead of silence) and ends the retries of a
    refused connection after REFUSED_ATTEMPTS by raising the error botocore caught."""

    def __init__(self, total_attempts: int, on_retry: Callable[[str], None] | None):
        self.total_attempts = total_attempts
        self.on_retry = on_retry

    def __call__(self, attempts: int, caught_exception=None, request_dict=None, **kwargs):
        if caught_exception is None:
            return None
        refused = connection_refused(caught_exception)
        limit = min(REFUSED_ATTEMPTS, self.total_attempts) if refused else self.total_attempts
        if attempts >= limit:
            if refused:
                raise caught_exception
            return None
        if self.on_retry:
            url = (request_dict or {}).get("url", "the endpoint").split("?", 1)[0]
            why = "connection refused" if refused else type(caught_exception).__name__
            self.on_retry(f"cannot reach {url} ({why}): attempt {attempts} of {limit} failed")
        return None


@dataclass
class Aws:
    """A boto3 session plus how clients are built from it (endpoint, retries). Clients are cached."""

    session: boto3.Session
    endpoint_url: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    local: bool = False
    _clients: dict = field(default_factory=dict, repr=False)
    region_name: str | None = None  # another region than the session's (a stack the deployer makes there)
    on_retry: Callable[[str], None] | None = field(
        default=None, repr=False
    )  # told of each retry after a connection failure

    @property
    def region(self) -> str:
        return self.region_name or self.session.region_name

    def in_region(self, region: str) -> Aws:
        """The same credentials, endpoint and retries, with clients in `region`."""
        return Aws(
            self.session, self.endpoint_url, self.max_attempts, self.local, region_name=region, on_retry=self.on_retry
        )

    def client(self, service: str):
        if service not in self._clients:
            config = Config(
                retries={"mode": "adaptive", "max_attempts": self.max_attempts},
                user_agent_extra=USER_AGENT,
                s3={"addressing_style": "path"} if self.local else None,
                max_pool_connections=16,
                connect_timeout=CONNECT_TIMEOUT,
            )
            client = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
            event = f"needs-retry.{client.meta.service_model.service_id.hyphenize()}"
            # retries.max_attempts counts the retries, so a request is sent up to max_attempts + 1 times
            client.meta.events.register_first(
                event, RetryWatch(self.max_attempts + 1, self.on_retry), unique_id=f"cfn-strata-retry-watch-{service}"
            )
            self._clients[service] = client
        return self._clients[service]


def aws(
    region: str,
    profile: str | None = None,
    endpoint_url: str | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> Aws:
    """The standard chain (env, profile, SSO, instance role); `region` is required: the profile's."""
    return Aws(boto3.Session(profile_name=profile, region_name=region), endpoint_url, on_retry=on_retry)


@contextlib.contextmanager
def open_aws(
    region: str,
    *,
    profile: str | None,
    endpoint_url: str | None,
    local: bool,
    on_retry: Callable[[str], None] | None = None,
) -> Iterator[Aws]:
    """Real AWS, or (local=True) moto in-process on a free loopback port, stopped on exit, with the
    emulated account kept in .cfn-strata/local/ under the current directory (deployer/local.py).
    `on_retry` hears of each retry after a connection failure (the CLI prints it)."""
    if not local:
        yield aws(region, profile, endpoint_url, on_retry)
        return
    from deployer.local import LOCAL_CREDENTIALS, LocalState, local_endpoint, state_folder

    # The emulator has its own credentials: a profile named by AWS_PROFILE / AWS_DEFAULT_PROFILE that
    # this machine does not have must not stop an offline run (boto3, and moto when it is imported,
    # would look it up), so both are set aside while local mode runs.
    saved = {name: os.environ.pop(name) for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if name in os.environ}
    try:
        with local_endpoint(LocalState(state_folder())) as endpoint:
            yield Aws(
                boto3.Session(region_name=region, **LOCAL_CREDENTIALS), endpoint.url, local=True, on_retry=on_retry
            )
    finally:
        os.environ.update(saved)
