"""E9006: no IAM or key policy statement allows every action on every resource."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import items, properties, source_url, statements, strings

# type -> where its policy documents are; "Policies" means the inline list of {PolicyName, PolicyDocument}.
DOCUMENTS = {
    "AWS::IAM::Role": "Policies",
    "AWS::IAM::User": "Policies",
    "AWS::IAM::Group": "Policies",
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::IAM::RolePolicy": "PolicyDocument",
    "AWS::IAM::UserPolicy": "PolicyDocument",
    "AWS::IAM::GroupPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}


def _documents(resource_type: str, props: dict):
    """(path below Properties, policy document) of one resource."""
    where = DOCUMENTS[resource_type]
    if where == "Policies":
        for index, policy in items(props.get("Policies")):
            if isinstance(policy, dict):
                yield [where, index, "PolicyDocument"], policy.get("PolicyDocument")
    else:
        yield [where], props.get(where)


class IamWildcard(CloudFormationLintRule):
    id = "E9006"
    shortdesc = "No policy statement allows action * on resource *"
    description = (
        "An Allow statement in an inline role/user/group policy, AWS::IAM::Policy, AWS::IAM::ManagedPolicy or "
        "AWS::IAM::{Role,User,Group}Policy may not have Action * together with Resource * (or a NotResource). "
        "A KMS key "
        "policy's Resource is always *, so there Action * alone is the finding; kms:* for the account is allowed."
    )
    source_url = source_url("E9006")
    tags = ["cfn-strata", "resources", "iam", "kms"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(sorted(DOCUMENTS)).items():
            kind = resource["Type"]
            for path, document in _documents(kind, properties(resource)):
                for index, statement in statements(document):
                    if statement.get("Effect") != "Allow" or "*" not in strings(statement.get("Action")):
                        continue
                    every_resource = (
                        kind == "AWS::KMS::Key"
                        or "*" in strings(statement.get("Resource"))
                        or "NotResource" in statement
                    )
                    if every_resource:
                        sid = statement.get("Sid", f"statement {index}")
                        matches.append(
                            RuleMatch(
                                ["Resources", name, "Properties", *path, "Statement", index],
                                f"{name} ({kind}) {sid} allows action * on every resource",
                            )
                        )
        return matches
