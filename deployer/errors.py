"""AWS errors become one line that says what to do. Mapped once, here; the CLI prints the line
and exits 1."""

from __future__ import annotations


class DeployerError(Exception):
    """A known failure of a deployer operation: one line on stderr, exit 1."""


class FlagRefused(DeployerError):
    """A flag that cannot apply to this stack (e.g. --revert-drift on a stack that does not exist
    yet): one line naming the flag, exit 2 like any other usage error."""

    exit_code = 2


# Exit codes every command keeps (README, "Exit codes"): the shell's 128 + SIGINT for Ctrl-C, and one
# code for a question answered no (or not at all: stdin closed), distinct from a failure (1), bad
# input (2) and --fail-on (3).
INTERRUPTED_EXIT = 130
DECLINED_EXIT = 4


class Interrupted(Exception):
    """Ctrl-C: the CLI prints the message (what goes on, how to follow it) and exits 130."""

    exit_code = INTERRUPTED_EXIT


class Declined(Exception):
    """A confirmation answered no, a typed name that did not match, or no answer at all (stdin
    closed): the CLI prints the message (what was left undone) and exits DECLINED_EXIT."""

    exit_code = DECLINED_EXIT


class NotDeployed(DeployerError):
    """The stack a command needs does not exist: one message for it everywhere (not_deployed)."""

    def __init__(self, stack_name: str, consequence: str = ""):
        self.stack_name = stack_name
        super().__init__(not_deployed(stack_name, consequence))


def not_deployed(stack_name: str, consequence: str = "") -> str:
    """ "stack X is not deployed: <what that means for this command>", the one wording for a missing stack."""
    return f"stack {stack_name} is not deployed" + (f": {consequence}" if consequence else "")


_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestThrottled",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
}


def error_code(err: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError ("ValidationError"), None for anything else."""
    response = getattr(err, "response", None)
    return (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None


def error_message(err: BaseException) -> str:
    """The AWS error message of a botocore ClientError, "" for anything else."""
    response = getattr(err, "response", None)
    return (response.get("Error") or {}).get("Message", "") if isinstance(response, dict) else ""


def is_stack_missing(err: BaseException) -> bool:
    """CloudFormation's answer for a stack that does not exist: its message says "Stack with id X
    does not exist" (a ValidationError; there is no dedicated error code)."""
    return "does not exist" in error_message(err)


def missing_stack_name(err: BaseException) -> str | None:
    """The stack a "does not exist" answer names: "Stack with id X does not exist" (DescribeStacks
    and most actions) or "Stack [X] does not exist" (DescribeChangeSet)."""
    import re

    found = re.search(r"Stack (?:with id |\[)([^\]\s]+)\]? does not exist", error_message(err))
    return found.group(1) if found else None


def connection_refused(err: BaseException | None) -> bool:
    """Whether a connection error was a refused connection (ECONNREFUSED: nothing listens there),
    looking through the urllib3 / socket exceptions botocore wraps."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, ConnectionRefusedError) or "Connection refused" in str(err):
            return True
        kwargs = getattr(err, "kwargs", None)
        err = (kwargs.get("error") if isinstance(kwargs, dict) else None) or err.__cause__ or err.__context__
    return False


def is_not_modelled(err: BaseException) -> bool:
    """The local emulator's answer for an action it does not model (see deployer/local.py)."""
    return error_code(err) == "NotImplemented"


def explain(err: BaseException) -> str | None:
    """One line for an AWS/botocore error, or None when `err` is not one (it is then a bug)."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(err, bx.NoCredentialsError):
        return (
            "no AWS credentials found: pass --profile (or set AWS_PROFILE), run `aws configure` / `aws sso "
            "login`, or try it offline with --local"
        )
    if isinstance(err, bx.ProfileNotFound):
        return f"{err}: check --profile / AWS_PROFILE against ~/.aws/config"
    if isinstance(err, (bx.SSOTokenLoadError, bx.UnauthorizedSSOTokenError, bx.TokenRetrievalError)):
        return f"the SSO session has expired or is missing ({err}): run `aws sso login` for this profile and retry"
    if isinstance(err, bx.EndpointConnectionError):
        if connection_refused(err):
            return (
                f"cannot reach {err.kwargs.get('endpoint_url', 'the AWS endpoint')}: the connection was "
                "refused (nothing listens there); check --endpoint-url and --region"
            )
        return (
            f"cannot reach {err.kwargs.get('endpoint_url', 'the AWS endpoint')}: check the network, --region "
            "and --endpoint-url"
        )
    if isinstance(err, ResponseParserError):
        return (
            "the endpoint answered with something that is not an AWS response (an emulator error or a proxy "
            "page); check --endpoint-url"
        )
    if isinstance(err, bx.WaiterError):
        if "Error" in (err.last_response or {}):  # the waiter's call itself failed (expired token, access denied...)
            return explain(bx.ClientError(err.last_response, err.kwargs.get("name", "a waiter") or "a waiter"))
        reason = (err.last_response or {}).get("StatusReason") or err.kwargs.get("reason") or str(err)
        return f"waiting for AWS failed: {reason}"
    if isinstance(err, bx.ClientError):
        code = error_code(err) or "Unknown"
        message = error_message(err)
        operation = err.operation_name
        if code in _THROTTLING:
            return (
                f"AWS kept throttling {operation} beyond the retries: wait a minute and run again (or raise "
                "AWS_MAX_ATTEMPTS)"
            )
        if code in _EXPIRED:
            return (
                f"the AWS credentials have expired ({operation}): refresh them (`aws sso login`, a new session "
                "token) and retry"
            )
        if code in _BAD_CREDENTIALS:
            return f"AWS rejected the credentials ({code} on {operation}): check the access key, profile and clock"
        if code in _DENIED:
            return (
                f"access denied for {operation}: {message} (README.md, section Deploying, lists the "
                "permissions the deployer needs)"
            )
        if is_stack_missing(err) and missing_stack_name(err):
            return not_deployed(missing_stack_name(err), f"{operation} found no such stack in this account and region")
        if code in ("NoSuchBucket", "404") and operation in (
            "HeadBucket",
            "GetBucketLocation",
            "PutObject",
            "HeadObject",
        ):
            return (
                f"the template bucket does not exist ({operation}): create it with `cfn-strata bootstrap "
                "--bucket NAME` or pass --create-bucket"
            )
        return f"AWS error on {operation}: {code}: {message}".rstrip(": ")
    if isinstance(err, bx.BotoCoreError):
        return f"AWS client error: {err}"
    return None
