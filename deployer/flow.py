"""The deployer's operations as the CLI calls them: each takes an `Aws` (clients), a bundle and
what the user asked; time is injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from deployer.bundle import Bundle, deployed_template
from deployer.changeset import ChangeSetRef, NoChanges, Waiting, create_change_set, describe_stack, destroy_command
from deployer.drift import detect_drift
from deployer.errors import DeployerError, NotDeployed, error_code
from deployer.execute import StackFailed, execute
from deployer.guard import (
    ROOT,
    allowed_changes,
    guard_before_update,
    loosened,
    policy_stacks,
    protect_after,
    protect_termination,
    rollback_configuration,
)
from deployer.images import check_pinned_images
from deployer.imports import check_imports
from deployer.recovery import guidance
from deployer.regional import global_values, regional_stacks
from deployer.regional import plan_all as plan_regional
from deployer.regional import run_all as run_regional
from deployer.review import Facts, Review, Risk, review_change_set
from deployer.session import Aws
from deployer.upload import TemplateStore, UploadResult, bucket_region, upload_bundle

# Waiting is a frozen dataclass: one shared default instance, as the former `Waiting()` defaults were (B008).
_DEFAULT_WAITING = Waiting()


@dataclass(frozen=True)
class Clock:
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    delay: float = 5


@dataclass(frozen=True)
class Deferred:
    """No root change set yet: its parameters from the us-east-1 global stack are that stack's
    outputs, and it does not exist yet. `deploy` creates the root's change set once it does."""

    stack_name: str
    reason: str


@dataclass(frozen=True)
class PlanResult:
    upload: UploadResult
    outcome: ChangeSetRef | NoChanges | Deferred
    review: Review | None
    # Stacks in other regions the root relies on (the backup copy vault, the us-east-1 global
    # stack), planned before the root and executed before it (deployer/regional.py).
    regional: tuple
    # The global stack's outputs the root's change set was created with ({} when the root takes
    # none; None when deferred).
    global_values: dict | None

    @property
    def regional_changes(self) -> tuple:
        return tuple(p for p in self.regional if not isinstance(p.outcome, NoChanges))


def create_bucket(s3, bucket: str, region: str, *, tls_only: bool = True) -> None:
    """The template bucket the right way: versioned, encrypted, no public access, TLS only, old
    versions expire. (The local emulator speaks plain HTTP, so local mode skips the TLS policy.)"""
    from botocore.exceptions import ClientError

    try:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
    except ClientError as err:
        if error_code(err) != "BucketAlreadyOwnedByYou":
            raise
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    if tls_only:
        s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old-template-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }
            ]
        },
    )


def tls_only_policy(bucket: str) -> str:
    import json

    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def upload(
    aws: Aws, bundle: Bundle, bucket: str, prefix: str = "", *, create: bool = False, configuration: bool = True
) -> UploadResult:
    s3 = aws.client("s3")
    if create:
        create_bucket(s3, bucket, aws.region, tls_only=not aws.local)
    region = bucket_region(s3, bucket)
    if region != aws.region and not aws.local:
        raise DeployerError(
            f"bucket {bucket} is in {region}, the stack in {aws.region}: CloudFormation reads templates "
            "from a bucket in the stack's region; "
            f"use one there (`cfn-strata bootstrap --bucket NAME --region {aws.region}`)"
        )
    store = TemplateStore(bucket, prefix, region, global_urls=aws.local)
    return upload_bundle(s3, bundle, store, configuration=configuration)


def with_global_values(aws: Aws, bundle: Bundle) -> Bundle:
    """The bundle with the root's parameters from the deployed us-east-1 global stack (`upload`
    writes them into the template configuration); refuses when that stack does not exist yet."""
    values = global_values(aws, bundle)
    if values is None:
        bundle.parameters()  # raises: names the parameters and the command that creates the stack
    return bundle.with_global_values(values)


def facts(bundle: Bundle, allowed: tuple[str, ...] = ()) -> Facts:
    """What makes a change fail, from the new templates: custom names that block a replacement,
    and the stack policies the deployer keeps on every stack (deployer/guard.py)."""
    from deployer.offline import _text
    from resource_semantics import blocking_name
    from templates.safety import guarded_ids

    names = {}
    for layer, file in [(ROOT, bundle.root_file)] + [(s["layer"], s["file"]) for s in bundle.nested_stacks]:
        for logical_id, resource in sorted((bundle.document(file).get("Resources") or {}).items()):
            name = blocking_name(resource["Type"], resource.get("Properties") or {})
            if name is not None:
                names[(layer, logical_id)] = _text(name)
    guarded = {owner: guarded_ids(policy) for owner, policy in bundle.policies().items()}
    return Facts(names, guarded, tuple(allowed))


def plan(
    aws: Aws,
    bundle: Bundle,
    bucket: str,
    prefix: str = "",
    *,
    create_bucket: bool = False,
    clock: Clock = Clock(),
    waiting: Waiting = _DEFAULT_WAITING,
    progress=None,
    drift: bool = True,
    allowed: tuple[str, ...] = (),
    revert_drift: bool = False,
) -> PlanResult:
    """Upload, create the change set and review it; `allowed` are the --allow-replacement specs
    (a change they name is not rated as failing on its stack policy); `revert_drift` makes it a
    drift-aware change set (plan --revert-drift). A root taking parameters from the us-east-1
    global stack gets them from its outputs; when it does not exist yet (and --parameter-overrides
    do not give them) the root's change set is Deferred."""
    check_pinned_images(aws.client("ecr"), bundle)  # before anything is uploaded or proposed
    values = global_values(aws, bundle)
    if values is None and set(bundle.global_inputs) <= bundle.parameter_overrides.keys():
        values = {}  # --parameter-overrides give them
    if values:
        bundle = bundle.with_global_values(values)
    uploaded = upload(aws, bundle, bucket, prefix, create=create_bucket, configuration=values is not None)
    regional = ()
    if regional_stacks(bundle):
        if progress:
            progress(
                "creating the change sets of the stacks in other regions (backup copy vault, us-east-1 global stack)"
            )
        regional = tuple(plan_regional(aws, bundle, now=clock.now(), waiting=waiting))
    if values is None:
        wanted = ", ".join(f"{name} <- {output}" for name, output in bundle.global_inputs.items())
        return PlanResult(
            uploaded,
            Deferred(
                bundle.stack_name,
                f"the root's parameters from the us-east-1 stack {bundle.stack_name}-global ({wanted}) "
                "are its outputs, "
                f"and it does not exist yet: `deploy` creates it first, then the root's change set",
            ),
            None,
            regional,
            None,
        )
    outcome, review = plan_root(
        aws,
        bundle,
        uploaded,
        clock=clock,
        waiting=waiting,
        progress=progress,
        drift=drift,
        allowed=allowed,
        revert_drift=revert_drift,
    )
    return PlanResult(uploaded, outcome, review, regional, values)


def plan_root(
    aws: Aws,
    bundle: Bundle,
    uploaded: UploadResult,
    *,
    clock: Clock = Clock(),
    waiting: Waiting = _DEFAULT_WAITING,
    progress=None,
    drift: bool = True,
    allowed: tuple[str, ...] = (),
    revert_drift: bool = False,
) -> tuple[ChangeSetRef | NoChanges, Review | None]:
    """The root's change set (nested stacks included) and its review; the bundle carries the
    global stack's values."""
    from deployer.offline import needs_offline, offline_review

    cfn = aws.client("cloudformation")
    rollback = rollback_configuration(cfn, bundle)
    preflight = _preflight_imports(cfn, bundle)
    outcome = create_change_set(
        cfn,
        bundle,
        uploaded,
        now=clock.now(),
        waiting=waiting,
        progress=progress,
        rollback_configuration=rollback,
        revert_drift=revert_drift,
        read_events=not aws.local,
    )
    if isinstance(outcome, NoChanges):
        return outcome, None
    known = facts(bundle, allowed)
    review = review_change_set(
        cfn, outcome.change_set_id, layer_of=bundle.layer_of, stateful_ids_of=bundle.stateful_ids, facts=known
    )
    review = replace(
        review, change_set_type=outcome.type
    )  # DescribeChangeSet does not return the type; the deployer chose it
    if needs_offline(review) or not review.changes:  # an empty change set is "no changes" only if the templates agree
        # a CREATE change set leaves the new stack in REVIEW_IN_PROGRESS: compared with nothing
        review = offline_review(cfn, bundle, review, describe_stack(cfn, bundle.stack_name), known)
        if not review.changes:  # the endpoint saw a change the templates and parameters do not hold
            cfn.delete_change_set(ChangeSetName=outcome.change_set_id)
            return NoChanges(bundle.stack_name, "the computed nested change sets hold no change"), None
    if preflight:
        review = replace(review, notes=review.notes + preflight)
    review = with_hooks(cfn, review, outcome.change_set_id, local=aws.local)
    if drift and outcome.type == "UPDATE":
        if progress:
            progress("detecting drift of the stacks that hold data")
        holding_data = {
            layer: stack_id
            for layer, stack_id in policy_stacks(cfn, bundle, outcome.stack_id).items()
            if layer != ROOT and bundle.stateful_ids(layer)
        }
        report = detect_drift(cfn, holding_data, delay=waiting.delay, max_attempts=waiting.max_attempts)
        review = replace(review, drifted=report.drifted, notes=review.notes + report.notes)
    return outcome, review


def refresh_root(
    aws: Aws,
    bundle: Bundle,
    bucket: str,
    result: PlanResult,
    prefix: str = "",
    *,
    clock: Clock = Clock(),
    waiting: Waiting = _DEFAULT_WAITING,
    progress=None,
    drift: bool = True,
    allowed: tuple[str, ...] = (),
    revert_drift: bool = False,
) -> PlanResult | None:
    """After the global stack was executed: when its outputs are not the values the root's change
    set was created with (a first create, or an update that replaced the web ACL or the
    certificate), delete that change set and create the root's again with the new values. None
    when the values did not change (the planned root change set stands)."""
    values = global_values(aws, bundle)
    if values is None:
        raise DeployerError(f"stack {bundle.stack_name}-global was executed but has no outputs to pass to the root")
    if values == result.global_values:
        return None
    if isinstance(result.outcome, ChangeSetRef):
        aws.client("cloudformation").delete_change_set(ChangeSetName=result.outcome.change_set_id)
    bundle = bundle.with_global_values(values)
    uploaded = upload(aws, bundle, bucket, prefix)
    outcome, review = plan_root(
        aws,
        bundle,
        uploaded,
        clock=clock,
        waiting=waiting,
        progress=progress,
        drift=drift,
        allowed=allowed,
        revert_drift=revert_drift,
    )
    return replace(result, upload=uploaded, outcome=outcome, review=review, global_values=values)


def with_type(cfn, review: Review) -> Review:
    """The review of someone else's change set with its type: DescribeChangeSet does not return
    ChangeSetType, the stack's state tells it (a CREATE change set leaves a new stack in
    REVIEW_IN_PROGRESS)."""
    if review.change_set_type:
        return review
    stack = describe_stack(cfn, review.stack_name)
    return replace(
        review, change_set_type="CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
    )


def with_hooks(cfn, review: Review, change_set_arn: str, *, local: bool) -> Review:
    """The review with the hooks CloudFormation ran on the change set (deployer/checks.py)."""
    from deployer.checks import LOCAL_HOOKS_NOTE, hook_results

    if local:
        return replace(review, notes=review.notes + (LOCAL_HOOKS_NOTE,))
    hooks, notes = hook_results(cfn, change_set_arn)
    return replace(review, hooks=hooks, notes=review.notes + notes)


def _preflight_imports(cfn, bundle: Bundle) -> tuple[str, ...]:
    """On a deployed, updatable stack: refuse to drop exports other stacks import (deployer/imports.py)."""
    stack = describe_stack(cfn, bundle.stack_name)
    if (
        not stack
        or not stack["StackStatus"].endswith("_COMPLETE")
        or stack["StackStatus"] in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE")
    ):
        return ()
    return check_imports(cfn, bundle, stack["StackId"])


def refuse_will_fail(review: Review) -> None:
    """Refuse a change set CloudFormation cannot execute (Risk.WILL_FAIL): executing it would only
    fail and roll back."""
    failing = review.at_least(Risk.WILL_FAIL)
    if failing:
        why = "; ".join(f"{c.layer}/{c.logical_id}: {c.reasons[0]}" for c in failing)
        raise DeployerError(
            f"change set {review.change_set_name} cannot be executed ({len(failing)} change(s) WILL FAIL): {why}"
        )


def refuse_high_risk(review: Review, allow_replacement: tuple[str, ...] = ()) -> dict[str, frozenset[str]]:
    """Refuse what will fail, and unless every replaced/removed stateful resource is named;
    {policy owner: ids} to loosen."""
    refuse_will_fail(review)
    return allowed_changes(review, tuple(allow_replacement))


def run(
    aws: Aws,
    bundle: Bundle,
    ref: ChangeSetRef,
    *,
    allow: dict[str, frozenset[str]] | None = None,
    clock: Clock = Clock(),
    on_event: Callable[[object], None],
    note: Callable[[str], object],
) -> str:
    """Execute a reviewed change set inside its guards: stack policies checked (update) and
    loosened for exactly `allow`, restored afterwards; the new templates' policies and (prod)
    termination protection once it is done."""
    cfn = aws.client("cloudformation")
    guard = None
    if ref.type == "UPDATE":
        guard = guard_before_update(cfn, bundle, ref.stack_id)
        for message in guard.notes:
            note(message)
    status = None
    try:
        with loosened(cfn, guard, allow or {}, note):
            try:
                status = execute(cfn, ref, sleep=clock.sleep, delay=clock.delay, on_event=on_event)
            except StackFailed as failed:
                status = failed.status
                advice = guidance(
                    cfn,
                    status,
                    stack_name=ref.stack_name,
                    stack_id=ref.stack_id,
                    destroy_command=destroy_command(bundle),
                )
                if advice:
                    raise StackFailed(f"{failed}\n{advice}", status) from failed
                raise
    finally:
        # A failed first create (ROLLBACK_*) is deleted next, never protected from it.
        if bundle.is_prod and status not in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
            protect_termination(cfn, ref.stack_name, note)
    protect_after(cfn, bundle, ref.stack_id)
    return status


def run_regional_first(
    aws: Aws,
    bundle: Bundle,
    result: PlanResult,
    *,
    clock: Clock = Clock(),
    on_event: Callable[[object], None],
    note: Callable[[str], object],
) -> list[tuple]:
    """Execute the planned stacks of other regions before the root (the root's backup copy
    action points at the vault one of them makes)."""
    return run_regional(
        aws, bundle, list(result.regional_changes), sleep=clock.sleep, delay=clock.delay, on_event=on_event, note=note
    )


def outputs(cfn, stack_name: str) -> dict[str, str]:
    stack = describe_stack(cfn, stack_name)
    if (
        stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    ):  # REVIEW_IN_PROGRESS: a first change set awaits review, nothing is created
        raise NotDeployed(stack_name, f"it has no outputs in {cfn.meta.region_name} (`cfn-strata deploy` creates it)")
    return {o["OutputKey"]: o["OutputValue"] for o in sorted(stack.get("Outputs") or [], key=lambda o: o["OutputKey"])}


def all_outputs(aws: Aws, bundle: Bundle, stack_ids: dict[str, str] | None = None) -> dict[str, str]:
    """The root's outputs, then those of the deployed stacks in other regions (the backup copy
    vault, the us-east-1 global stack) as `<layer>.<OutputKey>`. `stack_ids` (stack name -> id):
    the stacks a deploy just executed, read by id (the local emulator can keep a second stack of
    the same name in REVIEW_IN_PROGRESS after a declined first change set)."""
    ids = stack_ids or {}
    values = outputs(aws.client("cloudformation"), ids.get(bundle.stack_name, bundle.stack_name))
    for extra in regional_stacks(bundle):
        cfn = aws.in_region(extra.region).client("cloudformation")
        if describe_stack(cfn, ids.get(extra.stack_name, extra.stack_name)):
            values |= {
                f"{extra.layer}.{key}": value
                for key, value in outputs(cfn, ids.get(extra.stack_name, extra.stack_name)).items()
            }
    return values


def launch_url(bundle: Bundle, uploaded: UploadResult, region: str) -> str:
    """The console's quick-create link with stack name and parameters filled in."""
    from templates.docs import quick_create_url

    return quick_create_url(region, uploaded.root.url, bundle.stack_name, bundle.parameters())


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting a stack does, known before anything is deleted: the root's description, the
    resources deleted per stack ({"root": n, "<layer>": n, ...}; nested stacks themselves not
    counted), what stays by its DeletionPolicy, and the resources whose deletion protection a
    blocked failed create needs turned off (deployer/recovery.py)."""

    stack: dict
    deleted: dict[str, int]
    kept: tuple[str, ...]
    protected: tuple


def _walk_for_deletion(cfn, stack_name: str) -> tuple[list[str], dict[str, int]]:
    """(resources that stay by their DeletionPolicy, resources deleted per stack) of the stack and its nested stacks."""
    kept, deleted = [], {}
    pending = [(stack_name, "root")]
    while pending:
        name, layer = pending.pop()
        template = deployed_template(cfn, name)  # JSON or YAML (generate --format yaml)
        staying = set()
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot"):
                kept.append(f"{layer}/{logical_id} ({resource['Type']}: {resource['DeletionPolicy']})")
                if resource["DeletionPolicy"] != "Snapshot":  # a snapshot stays; the resource itself is deleted
                    staying.add(logical_id)
        deleted.setdefault(layer, 0)
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page["StackResourceSummaries"]:
                if summary["ResourceType"] == "AWS::CloudFormation::Stack":
                    if summary.get("PhysicalResourceId"):
                        pending.append((summary["PhysicalResourceId"], summary["LogicalResourceId"]))
                elif summary["LogicalResourceId"] not in staying and summary.get("ResourceStatus") != "DELETE_COMPLETE":
                    deleted[layer] += 1
    return sorted(kept), {"root": deleted.pop("root"), **dict(sorted(deleted.items()))}  # the root is walked first


def deletion_plan(
    cfn, stack_name: str, *, release_failed_create=None, command: str = "cfn-strata destroy"
) -> DeletionPlan:
    """Check the stack can be deleted (it exists: else NotDeployed; termination protection off; a
    failed create blocked by deletion protection only with `release_failed_create`), then list what
    deleting it removes and keeps. Reads only."""
    from deployer.recovery import ROLLBACK_FAILED, blocked_by_deletion_protection, guidance

    stack = describe_stack(cfn, stack_name)
    if stack is None:
        raise NotDeployed(stack_name, "nothing to delete")
    if stack.get("EnableTerminationProtection"):
        raise DeployerError(
            f"stack {stack_name} has termination protection on: turn it off in the console or with `aws "
            "cloudformation update-termination-protection --no-enable-termination-protection "
            f"--stack-name {stack_name}` first"
        )
    protected = blocked_by_deletion_protection(cfn, stack["StackId"]) if stack["StackStatus"] == ROLLBACK_FAILED else []
    if protected and release_failed_create is None:
        raise DeployerError(
            guidance(cfn, ROLLBACK_FAILED, stack_name=stack_name, stack_id=stack["StackId"], destroy_command=command)
        )
    kept, deleted = _walk_for_deletion(cfn, stack_name)
    return DeletionPlan(stack, deleted, tuple(kept), tuple(protected))


def destroy(
    cfn,
    stack_name: str,
    *,
    plan: DeletionPlan | None = None,
    waiting: Waiting = _DEFAULT_WAITING,
    release_failed_create=None,
    note=lambda s: None,
    command: str = "cfn-strata destroy",
) -> list[str]:
    """Delete the stack (after `deletion_plan`, which this calls when not given one); lists what
    stays by its DeletionPolicy. A stack whose first create failed and whose rollback was blocked
    by deletion protection (ROLLBACK_FAILED) is deleted only with `release_failed_create` (a
    function service -> client of the stack's region): protection is then turned off on exactly
    the resources that create made (deployer/recovery.py)."""
    from deployer.recovery import release_failed_create as release

    plan = plan or deletion_plan(cfn, stack_name, release_failed_create=release_failed_create, command=command)
    stack_id = plan.stack["StackId"]
    if plan.protected:
        release(release_failed_create, cfn, list(plan.protected), stack_id=stack_id, note=note)
    else:
        cfn.delete_stack(StackName=stack_id)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id, WaiterConfig=waiting.config())
    return list(plan.kept)
