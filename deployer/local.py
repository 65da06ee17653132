"""Local mode: moto's server in-process on a free loopback port, so the whole deploy flow runs
without an AWS account. Also the one place that patches moto, narrowly, for a gap that blocks the
flow (see `_patch_nested_stack_outputs`).

State: moto keeps its account in memory, per process. `--local` keeps it in `.cfn-strata/local/`
under the current directory (`LocalState`): moto's backends are restored from there before the
server answers and written back (one pickle, replaced atomically) after it stopped, all under an
exclusive file lock, so consecutive commands see the same stacks, buckets and outputs and two
commands in one directory take turns instead of corrupting it. moto 5.2.5 offers no persistence of
its own (its recorder replays requests, which re-draws every id); its models are plain objects that
pickle once locks and private keys are given a reduction (`_StatePickler`).

What the emulator does not model (README.md, section Deploying, lists it for users): nested change sets
(IncludeNestedStacks is ignored), Replacement / Details / PolicyAction in change sets, resource
types it has no model for (skipped with a warning), in-place updates of nested stacks (it deletes
and re-creates them), real failures and timing.
"""

from __future__ import annotations

import contextlib
import copyreg
import io
import logging
import os
import pickle
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deployer.local_rules import patch_name_checks

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOCAL_BUCKET = "cfn-strata-local-templates"
NOT_MODELLED = "NotImplemented"  # the error code local mode answers for actions moto lacks
# The moto versions the patch below was written against; the guard test fails when moto moves.
PATCHED_MOTO = ("5.1", "5.2")


@dataclass(frozen=True)
class LocalEndpoint:
    url: str
    server: object

    def stop(self) -> None:
        self.server.stop()


def _outputs_attribute(stack, attribute_name: str):
    """`Fn::GetAtt NestedStack.Outputs.X` for moto's Stack model. An output whose value moto could
    not compute (it refers to a resource type moto skips, e.g. AWS::SecretsManager::Secret) gets a
    visible placeholder rather than a made-up value, so the gap shows in the outputs."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name.startswith("Outputs."):
        wanted = attribute_name[len("Outputs.") :]
        declared = (stack.template_dict or {}).get("Outputs") or {}
        if wanted in declared:
            output = stack.output_map[wanted]
            return (
                output.value
                if output is not None and output.value is not None
                else f"unmodelled-by-moto:{stack.name}.{wanted}"
            )
    raise UnformattedGetAttTemplateException()


def _patch_nested_stack_outputs() -> None:
    """moto 5.1/5.2 (checked on 5.2.1 and 5.2.5): `moto.cloudformation.models.Stack` says it has
    every attribute (`has_cfn_attr` is True) but has no `get_cfn_attribute`, so a root template
    passing `Fn::GetAtt Layer.Outputs.X` into another nested stack fails with HTTP 500 on execute.
    Resolve `Outputs.X` from the nested stack's outputs, as CloudFormation does; nothing else."""
    from moto.cloudformation.models import Stack

    if "get_cfn_attribute" in vars(Stack):  # moto fixed it (or we patched already): leave it alone
        return
    Stack.get_cfn_attribute = _outputs_attribute


def _kms_key_with_cloudformation_tags(original):
    """Wrap moto's KMS Key.create_from_cloudformation_json so CloudFormation's `Tags`
    ([{Key, Value}]) reach moto's KMS tagger in the KMS API's shape ([{TagKey, TagValue}])."""

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = dict(cloudformation_json.get("Properties", {}))
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
            for tag in properties.get("Tags", [])
        ]
        patched = dict(cloudformation_json, Properties=properties)
        return original.__func__(cls, resource_name, patched, account_id, region_name, **kwargs)

    create_from_cloudformation_json.cfn_strata_patch = True
    return classmethod(create_from_cloudformation_json)


def _patch_kms_key_tags() -> None:
    """moto 5.1/5.2 (checked on 5.2.1 and 5.2.5): an `AWS::KMS::Key` with `Tags` fails with
    KeyError 'TagKey' (HTTP 500), because the CloudFormation tags go to the KMS tagger unconverted.
    Every layer key carries tags, so this blocks the local flow as much as the GetAtt gap."""
    from moto.kms.models import Key

    current = vars(Key)["create_from_cloudformation_json"]
    if getattr(current.__func__, "cfn_strata_patch", False):
        return
    Key.create_from_cloudformation_json = _kms_key_with_cloudformation_tags(current)


def _patch_intrinsics() -> None:
    """moto 5.1/5.2 (checked on 5.2.1 and 5.2.5), two gaps in its intrinsic-function resolver
    (`moto.cloudformation.parsing.clean_json`), both fatal for our layers:
    - `Fn::GetAZs: {"Ref": "AWS::Region"}` (troposphere's `GetAZs(Region)`) is not resolved; the
      dict becomes the zone name and subnet creation fails;
    - `{"Ref": "AWS::NoValue"}` inside a list (an optional ingress rule under `Fn::If`) stays as a
      None element, and security-group creation fails with HTTP 500.
    Resolve the GetAZs argument first and drop None list elements, as CloudFormation does."""
    from moto.cloudformation import parsing

    original = parsing.clean_json
    if getattr(original, "cfn_strata_patch", False):
        return

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Fn::GetAZs"), dict):
            resource_json = {"Fn::GetAZs": original(resource_json["Fn::GetAZs"], resources_map)}
        cleaned = original(resource_json, resources_map)
        if isinstance(resource_json, list):
            return [value for value in cleaned if value is not None]
        return cleaned

    clean_json.cfn_strata_patch = True
    parsing.clean_json = clean_json


# Attributes of modelled types moto 5.2.5 refuses in Fn::GetAtt that our templates use.
MODELLED_WITHOUT_ATTRIBUTE = frozenset({"MasterUserSecret.SecretArn"})


def _unmodelled(resources_map, logical_id) -> bool:
    """Declared in the template, but of a type moto has no model for (so it created nothing)."""
    from moto.cloudformation.parsing import resource_class_from_type

    declared = getattr(resources_map, "_resource_json_map", {}).get(logical_id)
    return isinstance(declared, dict) and resource_class_from_type(declared.get("Type", "")) is None


def _patch_unmodelled_references() -> None:
    """moto 5.1/5.2 (checked on 5.2.5): resources of types moto does not model (CloudFront, WAFv2,
    Secrets Manager, Cognito, alarms, ...) are skipped with a warning, but then
    - a `Ref` to one resolves to None (a property that needs it fails with HTTP 500),
    - a `Fn::GetAtt` on one is "references undefined resource" (HTTP 400), and
    - an Output with `Fn::GetAtt` on one crashes template validation (HTTP 500);
    some modelled types have no attributes at all (`AWS::ElasticLoadBalancingV2::TargetGroup`:
    AttributeError, HTTP 500) and get the same placeholder.
    Resolve both to a visible `unmodelled-by-moto:<LogicalId>[.<Attribute>]` string and let outputs
    of such resources through, so the rest of the stack is created and the gap shows in outputs."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError

    current = parsing.clean_json
    if getattr(current, "cfn_strata_unmodelled", False):
        return

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict):
            if isinstance(resource_json.get("Ref"), str) and _unmodelled(resources_map, resource_json["Ref"]):
                return f"unmodelled-by-moto:{resource_json['Ref']}"
            target = resource_json.get("Fn::GetAtt")
            if isinstance(target, list) and len(target) == 2:
                if _unmodelled(resources_map, target[0]):
                    return f"unmodelled-by-moto:{target[0]}.{target[1]}"
                try:
                    return current(resource_json, resources_map)
                except AttributeError:  # modelled, but without attributes (FakeTargetGroup in 5.2.5)
                    return f"unmodelled-by-moto:{target[0]}.{target[1]}"
                except ValidationError:
                    # moto 5.2.5's DBInstance answers Endpoint.* only, and its CloudFormation create
                    # ignores ManageMasterUserPassword: the RDS-managed secret (templates/data.py,
                    # database.managed_master_password) gets the placeholder; any other refused
                    # attribute stays the error it is.
                    if target[1] not in MODELLED_WITHOUT_ATTRIBUTE:
                        raise
                    # ARN-shaped: moto checks the ARNs of IAM policy resources.
                    region, account = (
                        getattr(resources_map, "_region_name", "us-east-1"),
                        getattr(resources_map, "_account_id", "123456789012"),
                    )
                    return f"arn:aws:secretsmanager:{region}:{account}:secret:unmodelled-by-moto-{target[0]}"
        return current(resource_json, resources_map)

    clean_json.cfn_strata_patch = True
    clean_json.cfn_strata_unmodelled = True
    parsing.clean_json = clean_json

    original_validate = parsing.ResourceMap.validate_outputs

    def validate_outputs(self):
        outputs = self._template.get("Outputs") or {}
        kept = {
            name: value
            for name, value in outputs.items()
            if not (
                isinstance(value.get("Value"), dict)
                and "Fn::GetAtt" in value["Value"]
                and (
                    _unmodelled(self, value["Value"]["Fn::GetAtt"][0])
                    or value["Value"]["Fn::GetAtt"][1] in MODELLED_WITHOUT_ATTRIBUTE
                )
            )
        }
        if len(kept) == len(outputs):
            return original_validate(self)
        self._template = dict(self._template, Outputs=kept)
        try:
            return original_validate(self)
        finally:
            self._template = dict(self._template, Outputs=outputs)

    parsing.ResourceMap.validate_outputs = validate_outputs


def _patch_outputs_after_change_set() -> None:
    """moto 5.1/5.2 (checked on 5.2.1 and 5.2.5): executing a change set stores the new template
    but keeps the stack's outputs of the template it had before (none, for a CREATE change set),
    so `describe_stacks` shows no outputs after a deploy. Re-read the outputs after executing."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set
    if getattr(original, "cfn_strata_patch", False):
        return

    def execute_change_set(self, change_set_name, stack_name=None):
        original(self, change_set_name, stack_name)
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None
        )
        if change_set is not None:
            stack = self.stacks[change_set.stack_id]
            stack._parse_template()
            stack.output_map = stack._create_output_map()

    execute_change_set.cfn_strata_patch = True
    CloudFormationBackend.execute_change_set = execute_change_set


def _patch_rds_models() -> None:
    """moto 5.1/5.2 (checked on 5.2.5), two gaps in its RDS CloudFormation models that stop the
    data layer (HTTP 500):
    - an Aurora member `AWS::RDS::DBInstance` states no EngineVersion (the cluster owns it), and
      moto looks up a default version for its engine, which it has none of for aurora-*;
    - `Ref` to an `AWS::RDS::DBParameterGroup` gives moto's model object, not the group name
      (the model has no physical_resource_id), so the instance that names it fails.
    Give aurora engines a placeholder default and parameter groups their name, as CloudFormation does."""
    from moto.rds.models import DBInstance, DBParameterGroup

    for engine in ("aurora-postgresql", "aurora-mysql"):
        DBInstance.default_engine_versions.setdefault(engine, "managed-by-cluster")
    if "physical_resource_id" not in vars(DBParameterGroup):
        DBParameterGroup.physical_resource_id = property(lambda group: group.name)


# CloudFormation actions moto 5.2.5 does not implement (it answers HTTP 500 with an HTML page,
# which botocore retries as a server error). Local mode answers them with an AWS-shaped
# `NotImplemented` error instead, so the deployer can say "not modelled locally" at once.
UNMODELLED_ACTIONS = (
    "detect_stack_drift",
    "describe_stack_drift_detection_status",
    "describe_stack_resource_drifts",
    "update_termination_protection",
    "list_imports",
    "continue_update_rollback",
    "describe_events",
    "list_hook_results",  # early validation and hooks (deployer/checks.py)
)


def _patch_unmodelled_actions() -> None:
    """moto 5.1/5.2 (checked on 5.2.5): the actions above raise NotImplementedError (HTTP 500).
    Give each a response that is an AWS error with code NotImplemented; leave any moto implements."""
    from moto.cloudformation.exceptions import CloudFormationError
    from moto.cloudformation.responses import CloudFormationResponse

    class NotModelled(CloudFormationError):
        code = NOT_MODELLED

    def unmodelled(action: str):
        def respond(self):
            raise NotModelled(f"{action} is not modelled by the local emulator (moto)")

        respond.cfn_strata_patch = True
        return respond

    warnings.filterwarnings(
        "ignore", message=r"Exception\(NotModelled\) with code"
    )  # moto's serializer: no such shape in the model
    for action in UNMODELLED_ACTIONS:
        if action not in vars(CloudFormationResponse):
            setattr(CloudFormationResponse, action, unmodelled(action))


def moto_needs_patch() -> bool:
    """True while moto's Stack model still lacks its own get_cfn_attribute (the guard test's probe)."""
    from moto.cloudformation.models import Stack

    return vars(Stack).get("get_cfn_attribute") in (None, _outputs_attribute)


# ------------------------------------------------------------------ state between commands

STATE_FOLDER = Path(".cfn-strata") / "local"  # under the current directory (gitignored)
STATE_FILE = "emulator.pickle"
LOCK_FILE = "lock"
STATE_FORMAT = 2
_BACKEND_DICT_OWN = frozenset(
    {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}
)  # set by BackendDict.__init__
LOCK_WAIT_SECONDS = 600


def state_folder(cwd: Path | None = None) -> Path:
    return (cwd or Path.cwd()) / STATE_FOLDER


def _load_private_key(der: bytes):
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, None)


class _StatePickler(pickle.Pickler):
    """Pickles moto's models: a lock becomes a new lock (nothing holds one between requests, the
    server is stopped), a private key (moto's KMS keys) its PKCS#8 DER bytes."""

    dispatch_table = copyreg.dispatch_table | {
        type(threading.Lock()): lambda lock: (threading.Lock, ()),
        type(threading.RLock()): lambda lock: (threading.RLock, ()),
    }

    def reducer_override(self, obj):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        if isinstance(obj, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
            der = obj.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _load_private_key, (der,)
        return NotImplemented


def _header() -> dict:
    import moto

    return {
        "format": STATE_FORMAT,
        "moto": moto.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


@dataclass(frozen=True)
class LocalState:
    """The emulated account of one directory: `folder/emulator.pickle`, guarded by `folder/lock`."""

    folder: Path

    @property
    def file(self) -> Path:
        return self.folder / STATE_FILE

    @contextlib.contextmanager
    def locked(self, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """Exclusive use of the folder for one command; another command waits its turn."""
        from deployer.errors import DeployerError

        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK_FILE, "a+b") as handle:
            deadline = time.monotonic() + wait_seconds
            while not _try_lock(handle):
                if time.monotonic() > deadline:
                    raise DeployerError(
                        f"another cfn-strata --local command has used {self.folder} for over "
                        f"{wait_seconds:.0f} s (lock {self.folder / LOCK_FILE}); wait for it to finish"
                    )
                time.sleep(0.1)
            try:
                yield
            finally:
                _unlock(handle)

    def restore(self) -> bool:
        """Put the saved backends into moto (after its reset); False when there is nothing saved."""
        from deployer.errors import DeployerError

        if not self.file.is_file():
            return False
        with open(self.file, "rb") as handle:
            try:
                header = pickle.load(handle)
            except Exception as err:
                raise DeployerError(
                    f"{self.file} is not a local emulator state ({err}); start over with `cfn-strata local reset`"
                ) from err
            if not isinstance(header, dict) or header != _header():
                raise DeployerError(
                    f"{self.file} was written by another moto/Python ({header}, this is {_header()}); "
                    "start over with `cfn-strata local reset`"
                )
            backends = pickle.load(handle)
        from moto.backends import get_backend
        from moto.core.base_backend import BackendDict

        for service, (accounts, shared) in sorted(backends.items()):
            live = get_backend(service)
            live.clear()
            live.update(accounts)
            for name, value in shared.items():
                setattr(live, name, value)
            if live not in BackendDict._instances:
                BackendDict._instances.append(live)
        return True

    def save(self) -> None:
        """Every moto backend in use, in one pickle (objects shared between services stay shared),
        written to a temporary file and renamed over the old state: a crash leaves the old one."""
        from moto.core.base_backend import BackendDict

        # a service's state shared by its accounts lives on its BackendDict (S3's bucket_accounts:
        # without it, moto creates an existing bucket anew, empty, instead of BucketAlreadyOwnedByYou)
        backends = {
            b.service_name: (dict(b), {k: v for k, v in vars(b).items() if k not in _BACKEND_DICT_OWN})
            for b in BackendDict._instances
            if len(b)
        }
        buffer = io.BytesIO()
        pickle.dump(_header(), buffer)
        _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(backends)
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".emulator-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(buffer.getvalue())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.file)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def reset(self) -> bool:
        """Empty the emulated account; True when there was one."""
        with self.locked():
            existed = self.file.is_file()
            with contextlib.suppress(FileNotFoundError):
                self.file.unlink()
            return existed


def _try_lock(handle) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(handle) -> None:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def local_endpoint(state: LocalState | None = None) -> Iterator[LocalEndpoint]:
    """Start moto on 127.0.0.1 with a free port; always stopped on exit. With `state`, the account
    is restored from it first and saved back after the server stopped (whatever the command's
    outcome: what it did to the account happened, as on AWS), the folder locked throughout."""
    if state is None:
        with _serving() as endpoint:
            yield endpoint
        return
    with state.locked():
        restored = []  # saved back only when what was there was read: a refused state stays as it is

        def restore() -> None:
            state.restore()
            restored.append(True)

        try:
            with _serving(restore) as endpoint:
                yield endpoint
        finally:
            if restored:
                state.save()


@contextlib.contextmanager
def _serving(restore=lambda: None) -> Iterator[LocalEndpoint]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as err:  # moto is a test extra
        from deployer.errors import DeployerError

        raise DeployerError(
            "--local needs moto: pip install 'cfn-strata[local]' (or -e '.[local]' in a checkout)"
        ) from err
    _patch_nested_stack_outputs()
    _patch_kms_key_tags()
    _patch_intrinsics()
    _patch_unmodelled_references()
    _patch_outputs_after_change_set()
    _patch_rds_models()
    _patch_unmodelled_actions()
    patch_name_checks()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # moto logs and warns once per resource of a type it does not model; the review already shows
    # those values as unmodelled-by-moto:<Id>.<Attr> and README.md (Deploying, Local mode) lists the gaps.
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse .* but it's not supported by moto", category=UserWarning)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = LocalEndpoint(f"http://{host}:{port}", server)
    try:
        # moto keeps its state per process, not per server: start every local run empty (moto's
        # documented reset endpoint), whatever an earlier run in this process left behind.
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint.url}/moto-api/reset", method="POST"), timeout=30
        ).close()
        restore()
        yield endpoint
    finally:
        endpoint.stop()
