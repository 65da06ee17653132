"""E9014: the role that runs each CodePipeline action has the minimum permissions that action needs.

The minimum per action type, from the AWS CodePipeline user guide, "Manage the CodePipeline service
role" (https://docs.aws.amazon.com/codepipeline/latest/userguide/how-to-custom-role.html: the
service role permissions per action) and each action's reference page:
- Deploy/ECS (action-reference-ECS.html): ecs:DescribeServices, ecs:DescribeTaskDefinition,
  ecs:DescribeTasks, ecs:ListTasks, ecs:RegisterTaskDefinition, ecs:UpdateService, and
  iam:PassRole for the task roles;
- Deploy/CodeDeployToECS (action-reference-ECSbluegreen.html): codedeploy:CreateDeployment,
  GetApplication, GetApplicationRevision, GetDeployment, GetDeploymentConfig,
  RegisterApplicationRevision, ecs:RegisterTaskDefinition, iam:PassRole;
- Deploy/CloudFormation (action-reference-CloudFormation.html): the calls of its ActionMode
  (CHANGE_SET_REPLACE: CreateChangeSet, DescribeChangeSet, DeleteChangeSet, DescribeStacks;
  CHANGE_SET_EXECUTE: ExecuteChangeSet, DescribeChangeSet, DescribeStacks; CREATE_UPDATE /
  REPLACE_ON_FAILURE: CreateStack, UpdateStack, DescribeStacks, DeleteStack; DELETE_ONLY:
  DeleteStack, DescribeStacks), plus iam:PassRole when the action passes a RoleArn to CloudFormation;
- Build/CodeBuild (action-reference-CodeBuild.html): codebuild:BatchGetBuilds, codebuild:StartBuild;
- Deploy/S3 (action-reference-S3Deploy.html): s3:PutObject (s3:PutObjectAcl with a CannedACL,
  kms:GenerateDataKey with a KMSEncryptionKeyARN);
- Source/CodeStarSourceConnection (action-reference-CodestarConnectionSource.html):
  codestar-connections:UseConnection (or its codeconnections: name);
- Approval/Manual with a NotificationArn (approvals-service-role-permissions.html): sns:Publish.
The CloudFormation service role a Deploy/CloudFormation action passes (its RoleArn, an AWS::IAM::Role
of the same template) must not be an administrator (issue 14): it carries a PermissionsBoundary, no
Allow statement has `*` or `<service>:*` on Resource `*` (or NotAction / NotResource), none allows
iam:* or iam:PassRole on every role, and every statement allowing iam:CreateRole, PutRolePolicy, AttachRolePolicy,
PutRolePermissionsBoundary, DetachRolePolicy or DeleteRolePolicy requires iam:PermissionsBoundary
(StringEquals).
The role is the action's RoleArn, else the pipeline's RoleArn, when it is an AWS::IAM::Role of the
same template; its Allow statements (inline, and AWS::IAM::Policy / ManagedPolicy of the template
attached to it) are read for actions (wildcards honoured); resources and conditions are not judged.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import branches, items, properties, source_url, statements, strings, target

_CFN_MODES = {
    "CHANGE_SET_REPLACE": (
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:DescribeStacks",
    ),
    "CHANGE_SET_EXECUTE": (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:DescribeStacks",
    ),
    "CREATE_UPDATE": (
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DescribeStacks",
        "cloudformation:DeleteStack",
    ),
    "REPLACE_ON_FAILURE": (
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DescribeStacks",
        "cloudformation:DeleteStack",
    ),
    "DELETE_ONLY": ("cloudformation:DeleteStack", "cloudformation:DescribeStacks"),
}
_FIXED = {
    ("Deploy", "ECS"): (
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "iam:PassRole",
    ),
    ("Deploy", "CodeDeployToECS"): (
        "codedeploy:CreateDeployment",
        "codedeploy:GetApplication",
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:RegisterApplicationRevision",
        "ecs:RegisterTaskDefinition",
        "iam:PassRole",
    ),
    ("Build", "CodeBuild"): ("codebuild:BatchGetBuilds", "codebuild:StartBuild"),
    ("Test", "CodeBuild"): ("codebuild:BatchGetBuilds", "codebuild:StartBuild"),
}
# Either name of the connection permission is enough (CodeStar Connections was renamed CodeConnections).
_ANY_OF = {
    ("Source", "CodeStarSourceConnection"): ("codestar-connections:UseConnection", "codeconnections:UseConnection")
}


def required(category: str, provider: str, configuration: dict) -> tuple[list[str], tuple[str, ...]]:
    """(actions all required, actions of which one is required) for one pipeline action."""
    needed = list(_FIXED.get((category, provider), ()))
    if (category, provider) == ("Deploy", "CloudFormation"):
        modes = [m for m in branches(configuration.get("ActionMode")) if isinstance(m, str)]
        for mode in modes:
            needed += [a for a in _CFN_MODES.get(mode, ()) if a not in needed]
        if configuration.get("RoleArn") is not None:
            needed.append("iam:PassRole")
    elif (category, provider) == ("Deploy", "S3"):
        needed.append("s3:PutObject")
        if configuration.get("CannedACL") is not None:
            needed.append("s3:PutObjectAcl")
        if configuration.get("KMSEncryptionKeyARN") is not None:
            needed.append("kms:GenerateDataKey")
    elif (category, provider) == ("Approval", "Manual") and configuration.get("NotificationArn") is not None:
        needed.append("sns:Publish")
    return needed, _ANY_OF.get((category, provider), ())


def role_statements(role_id: str, template: dict) -> list[dict]:
    """The statements of the role's inline policies and of the template's policies attached to it."""
    resources = template.get("Resources") or {}
    role = resources.get(role_id) or {}
    documents = [p.get("PolicyDocument") for _, p in items(properties(role).get("Policies")) if isinstance(p, dict)]
    attached = {target(arn) for _, arn in items(properties(role).get("ManagedPolicyArns"))}
    for policy_id, policy in resources.items():
        if not isinstance(policy, dict) or policy.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if policy_id in attached or role_id in {target(r) for _, r in items(properties(policy).get("Roles"))}:
            documents.append(properties(policy).get("PolicyDocument"))
    return [statement for document in documents for _, statement in statements(document)]


def granted(role_id: str, template: dict) -> list[str]:
    """Action patterns the role's Allow statements grant (inline and same-template policies)."""
    return [
        a
        for statement in role_statements(role_id, template)
        if statement.get("Effect") == "Allow"
        for a in strings(statement.get("Action"))
    ]


# Role-changing calls that must require a permissions boundary (condition key iam:PermissionsBoundary,
# IAM service authorization reference).
_BOUNDARY_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePolicy",
)


def service_role_problems(role_id: str, template: dict) -> list[str]:
    """Why the CloudFormation service role a pipeline passes is an administrator: it carries no
    permissions boundary, allows `*` or `<service>:*` on Resource `*`, allows iam:*, or creates or
    changes roles without requiring a permissions boundary."""
    role = (template.get("Resources") or {}).get(role_id) or {}
    problems = [] if properties(role).get("PermissionsBoundary") is not None else ["carries no PermissionsBoundary"]
    for statement in role_statements(role_id, template):
        if statement.get("Effect") != "Allow":
            continue
        actions = strings(statement.get("Action"))
        sid = statement.get("Sid", "a statement")
        if "NotAction" in statement:
            problems.append(f"{sid} uses NotAction")
        if [a for a in actions if a == "*" or a.lower() == "iam:*"]:
            problems.append(f"{sid} allows iam:* or *")
        if "*" in strings(statement.get("Resource")) or "NotResource" in statement:
            wide = sorted(a for a in actions if a == "*" or a.endswith(":*"))
            if wide:
                problems.append(f"{sid} allows {', '.join(wide)} on every resource")
            if allows(actions, "iam:PassRole"):
                problems.append(f"{sid} allows iam:PassRole on every role")
        boundary_actions = [a for a in _BOUNDARY_ACTIONS if allows(actions, a)]
        condition = statement.get("Condition") if isinstance(statement.get("Condition"), dict) else {}
        if boundary_actions and "iam:PermissionsBoundary" not in (condition.get("StringEquals") or {}):
            problems.append(
                f"{sid} allows {', '.join(boundary_actions)} without a StringEquals iam:PermissionsBoundary condition"
            )
    return problems


def allows(patterns: list[str], action: str) -> bool:
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


class PipelineRolePermissions(CloudFormationLintRule):
    id = "E9014"
    shortdesc = "Pipeline roles have the minimum permissions of the actions they run"
    description = (
        "For every action of an AWS::CodePipeline::Pipeline (ECS, CodeDeployToECS, CloudFormation by "
        "ActionMode, CodeBuild, "
        "S3 deploy, CodeStarSourceConnection, Manual approval with SNS), the role that runs it (the "
        "action's RoleArn, else the "
        "pipeline's) allows the minimum actions the CodePipeline user guide lists for it; the "
        "CloudFormation service role a "
        "CloudFormation action passes carries a permissions boundary, has no <service>:* on *, no "
        "iam:*, and creates roles only with the boundary."
    )
    source_url = source_url("E9014")
    tags = ["cfn-strata", "resources", "codepipeline", "iam", "preflight"]

    def match(self, cfn):
        matches = []
        checked: set[str] = set()
        resources = cfn.template.get("Resources") or {}
        for pipeline_id, pipeline in sorted(cfn.get_resources(["AWS::CodePipeline::Pipeline"]).items()):
            pipeline_role = target(properties(pipeline).get("RoleArn"))
            for stage_index, stage in items(properties(pipeline).get("Stages")):
                for action_index, action in items(stage.get("Actions") if isinstance(stage, dict) else None):
                    if not isinstance(action, dict):
                        continue
                    kind = action.get("ActionTypeId") or {}
                    role_id = target(action.get("RoleArn")) or pipeline_role
                    if not role_id or (resources.get(role_id) or {}).get("Type") != "AWS::IAM::Role":
                        continue
                    configuration = action.get("Configuration") if isinstance(action.get("Configuration"), dict) else {}
                    needed, any_of = required(str(kind.get("Category")), str(kind.get("Provider")), configuration)
                    patterns = granted(role_id, cfn.template)
                    missing = [a for a in needed if not allows(patterns, a)]
                    if any_of and not any(allows(patterns, a) for a in any_of):
                        missing.append(" or ".join(any_of))
                    if (str(kind.get("Category")), str(kind.get("Provider"))) == ("Deploy", "CloudFormation"):
                        service_role = target(configuration.get("RoleArn"))
                        if (
                            service_role
                            and (resources.get(service_role) or {}).get("Type") == "AWS::IAM::Role"
                            and service_role not in checked
                        ):
                            checked.add(service_role)
                            for problem in service_role_problems(service_role, cfn.template):
                                matches.append(
                                    RuleMatch(
                                        ["Resources", service_role],
                                        f"{service_role} (AWS::IAM::Role), the CloudFormation role of "
                                        f"{pipeline_id} action "
                                        f"{stage.get('Name')}/{action.get('Name')}, {problem} (README, "
                                        "E9014: not an administrator)",
                                    )
                                )
                    if missing:
                        matches.append(
                            RuleMatch(
                                [
                                    "Resources",
                                    pipeline_id,
                                    "Properties",
                                    "Stages",
                                    stage_index,
                                    "Actions",
                                    action_index,
                                ],
                                f"{pipeline_id} (AWS::CodePipeline::Pipeline) action "
                                f"{stage.get('Name')}/{action.get('Name')} "
                                f"({kind.get('Category')}/{kind.get('Provider')}) runs as {role_id}, "
                                f"which lacks {', '.join(missing)} "
                                "(CodePipeline user guide, service role permissions for this action)",
                            )
                        )
        return matches
