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
The role is the action's RoleArn, else the pipeline's RoleArn, when it is an AWS::IAM::Role of the
same template; its Allow statements (inline, and AWS::IAM::Policy / ManagedPolicy of the template
attached to it) are read for actions (wildcards honoured); resources and conditions are not judged.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import branches, items, properties, source_url, statements, strings, target

_CFN_MODES = {
    "CHANGE_SET_REPLACE": ("cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:DeleteChangeSet", "cloudformation:DescribeStacks"),
    "CHANGE_SET_EXECUTE": ("cloudformation:ExecuteChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:DescribeStacks"),
    "CREATE_UPDATE": ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks", "cloudformation:DeleteStack"),
    "REPLACE_ON_FAILURE": ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks", "cloudformation:DeleteStack"),
    "DELETE_ONLY": ("cloudformation:DeleteStack", "cloudformation:DescribeStacks"),
}
_FIXED = {
    ("Deploy", "ECS"): ("ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks", "ecs:RegisterTaskDefinition", "ecs:UpdateService", "iam:PassRole"),
    ("Deploy", "CodeDeployToECS"): ("codedeploy:CreateDeployment", "codedeploy:GetApplication", "codedeploy:GetApplicationRevision", "codedeploy:GetDeployment",
                                    "codedeploy:GetDeploymentConfig", "codedeploy:RegisterApplicationRevision", "ecs:RegisterTaskDefinition", "iam:PassRole"),
    ("Build", "CodeBuild"): ("codebuild:BatchGetBuilds", "codebuild:StartBuild"),
    ("Test", "CodeBuild"): ("codebuild:BatchGetBuilds", "codebuild:StartBuild"),
}
# Either name of the connection permission is enough (CodeStar Connections was renamed CodeConnections).
_ANY_OF = {("Source", "CodeStarSourceConnection"): ("codestar-connections:UseConnection", "codeconnections:UseConnection")}


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


def granted(role_id: str, template: dict) -> list[str]:
    """Action patterns the role's Allow statements grant (inline and same-template policies)."""
    resources = template.get("Resources") or {}
    role = resources.get(role_id) or {}
    documents = [p.get("PolicyDocument") for _, p in items(properties(role).get("Policies")) if isinstance(p, dict)]
    attached = {target(arn) for _, arn in items(properties(role).get("ManagedPolicyArns"))}
    for policy_id, policy in resources.items():
        if not isinstance(policy, dict) or policy.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if policy_id in attached or role_id in {target(r) for _, r in items(properties(policy).get("Roles"))}:
            documents.append(properties(policy).get("PolicyDocument"))
    actions = []
    for document in documents:
        for _, statement in statements(document):
            if statement.get("Effect") == "Allow":
                actions += strings(statement.get("Action"))
    return actions


def allows(patterns: list[str], action: str) -> bool:
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


class PipelineRolePermissions(CloudFormationLintRule):
    id = "E9014"
    shortdesc = "Pipeline roles have the minimum permissions of the actions they run"
    description = (
        "For every action of an AWS::CodePipeline::Pipeline (ECS, CodeDeployToECS, CloudFormation by ActionMode, CodeBuild, "
        "S3 deploy, CodeStarSourceConnection, Manual approval with SNS), the role that runs it (the action's RoleArn, else the "
        "pipeline's) allows the minimum actions the CodePipeline user guide lists for it."
    )
    source_url = source_url("E9014")
    tags = ["cfn-strata", "resources", "codepipeline", "iam", "preflight"]

    def match(self, cfn):
        matches = []
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
                    if missing:
                        matches.append(RuleMatch(["Resources", pipeline_id, "Properties", "Stages", stage_index, "Actions", action_index],
                                                 f"{pipeline_id} (AWS::CodePipeline::Pipeline) action {stage.get('Name')}/{action.get('Name')} "
                                                 f"({kind.get('Category')}/{kind.get('Provider')}) runs as {role_id}, which lacks {', '.join(missing)} "
                                                 "(CodePipeline user guide, service role permissions for this action)"))
        return matches
