"""E9004: every log group has a retention and a customer-managed KMS key."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from templates.rules._policy import present, properties, source_url


class LogGroupHardening(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "Log groups set RetentionInDays and KmsKeyId"
    description = (
        "Every AWS::Logs::LogGroup sets RetentionInDays (logs never kept forever by accident) and KmsKeyId "
        "(encrypted with a KMS key) in every Fn::If branch."
    )
    source_url = source_url("E9004")
    tags = ["cfn-strata", "resources", "logs", "encryption"]

    def match(self, cfn):
        matches = []
        for name, group in cfn.get_resources(["AWS::Logs::LogGroup"]).items():
            props = properties(group)
            for key in ("RetentionInDays", "KmsKeyId"):
                if not present(props.get(key)):
                    matches.append(
                        RuleMatch(["Resources", name, "Properties"], f"{name} (AWS::Logs::LogGroup) has no {key}")
                    )
        return matches
