"""auth layer: smart-task's Cognito pool as seed 002 asks (MFA, Google, hosted UI), from the JSON."""

from __future__ import annotations

import pytest

from templates import auth
from templates.params import REPO_PARAMS, load_config
from tests.conftest import ALL_TARGETS, one, rendered, template


def test_only_profiles_with_auth_get_the_layer():
    for app, env in ALL_TARGETS:
        has_layer = "auth.json" in rendered(app, env).files
        assert has_layer == (app == "smart-task"), (app, env)


@pytest.mark.parametrize(
    ("env", "mfa", "protection", "policy"),
    [
        ("dev", "OPTIONAL", "INACTIVE", ("Delete", "Delete")),
        ("prod", "ON", "ACTIVE", ("RetainExceptOnCreate", "Retain")),
    ],
)
def test_smart_task_pool_mfa_and_deletion_protection(env, mfa, protection, policy):
    _, pool = one(template("smart-task", env, "auth"), "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["MfaConfiguration"] == mfa
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert props["DeletionProtection"] == protection
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == policy
    assert props["UserPoolName"] == f"user-pool-st-{env}"
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 3,
    }
    assert props["AutoVerifiedAttributes"] == ["email"]
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert props["UserPoolAddOns"] == {"AdvancedSecurityMode": "OFF"}
    assert props["UserPoolTags"]["EnvironmentSuffix"] == f"st-{env}"


def test_google_idp_reads_its_secret_with_a_dynamic_reference():
    doc = template("smart-task", "dev", "auth")
    title, idp = one(doc, "AWS::Cognito::UserPoolIdentityProvider")
    details = idp["Properties"]["ProviderDetails"]
    assert details["client_secret"] == "{{resolve:secretsmanager:google-oauth-st-dev:SecretString:client_secret}}"
    assert details["client_id"] == {"Ref": "GoogleClientId"}
    assert idp["Properties"]["ProviderType"] == "Google"
    assert idp["Condition"] == "HasGoogleClientId"
    # The secret is never a parameter: only the client id is.
    assert set(doc["Parameters"]) == {"CallbackUrls", "LogoutUrls", "GoogleClientId"}
    _, client = one(doc, "AWS::Cognito::UserPoolClient")
    assert client["Properties"]["SupportedIdentityProviders"] == {
        "Fn::If": ["HasGoogleClientId", ["COGNITO", {"Ref": title}], ["COGNITO"]]
    }


def test_spa_client_is_public_with_code_flow_and_url_knobs():
    doc = template("smart-task", "prod", "auth")
    _, client = one(doc, "AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert props["GenerateSecret"] is False
    assert props["AllowedOAuthFlows"] == ["code"]
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in props["ExplicitAuthFlows"]
    assert props["PreventUserExistenceErrors"] == "ENABLED"
    assert (props["AccessTokenValidity"], props["IdTokenValidity"], props["RefreshTokenValidity"]) == (60, 60, 30)
    assert props["CallbackURLs"] == {"Ref": "CallbackUrls"}
    assert doc["Parameters"]["CallbackUrls"]["Type"] == "CommaDelimitedList"
    assert doc["Parameters"]["CallbackUrls"]["Default"] == "http://localhost:3000/callback"
    assert doc["Parameters"]["LogoutUrls"]["Default"] == "http://localhost:3000/"
    _, domain = one(doc, "AWS::Cognito::UserPoolDomain")
    assert domain["Properties"]["Domain"] == "smart-task-st-prod"
    assert {"UserPoolId", "UserPoolArn", "UserPoolClientId", "UserPoolDomain", "UserPoolIssuerUrl"} <= set(
        doc["Outputs"]
    )
    root_outputs = template("smart-task", "prod", "root")["Outputs"]
    assert {"AuthUserPoolId", "AuthUserPoolClientId"} <= set(root_outputs)


def _smart_task(env: str = "dev", **auth_changes):
    cfg = load_config("smart-task", env, REPO_PARAMS)
    return cfg.model_copy(update={"auth": cfg.auth.model_copy(update=auth_changes)})


def test_advanced_security_enforced_on_the_plus_tier():
    layer = auth.build(_smart_task(advanced_security=True))
    props = layer.template.resources["UserPool"].to_dict()["Properties"]
    assert props["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert props["UserPoolTier"] == "PLUS"


def test_mfa_off_lists_no_factor():
    props = auth.build(_smart_task(mfa="OFF")).template.resources["UserPool"].to_dict()["Properties"]
    assert props["MfaConfiguration"] == "OFF"
    assert "EnabledMfas" not in props


def test_alb_protection_adds_a_confidential_client():
    layer = auth.build(
        _smart_task(
            protect="alb",
            protected_service="frontend",
            alb_callback_urls=["https://app.example.com/oauth2/idpresponse"],
        )
    )
    client = layer.template.resources["AlbUserPoolClient"].to_dict()["Properties"]
    assert client["GenerateSecret"] is True
    assert client["CallbackURLs"] == {"Ref": "AlbCallbackUrls"}
    assert (
        layer.template.parameters["AlbCallbackUrls"].properties["Default"]
        == "https://app.example.com/oauth2/idpresponse"
    )
    assert "AlbUserPoolClientId" in layer.template.outputs


def test_alb_protection_without_a_callback_host_is_refused():
    with pytest.raises(ValueError, match="oauth2/idpresponse"):
        auth.build(_smart_task(protect="alb", protected_service="frontend"))
