"""auth layer: the Cognito user pool (password policy, TOTP MFA, verified email, recovery by email,
threat protection), the SPA's public app client (authorization code + PKCE, no secret), the hosted
UI domain, Google as an identity provider, and, when the ALB authenticates, a confidential client
for the ALB's authenticate-cognito action (the ALB requires a client secret).

Consumers: the edge layer's authenticate-cognito listener rule reads UserPoolArn,
AlbUserPoolClientId and UserPoolDomain; an API Gateway JWT authorizer reads UserPoolIssuerUrl
(issuer) and UserPoolClientId (audience).
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, Not, Ref, Sub, cognito

from templates.common import Layer, LayerBuilder
from templates.config import AppConfig
from templates.naming import cognito_domain_prefix

OAUTH_SCOPES = ["openid", "email", "profile"]
GOOGLE = "Google"
# The secret the operator creates before the first deploy; only its name is in the template.
GOOGLE_SECRET_KIND = "google-oauth"
GOOGLE_SECRET_KEY = "client_secret"


def google_secret_reference(cfg: AppConfig) -> str:
    """A dynamic reference: CloudFormation reads the secret at deploy time, it never appears in a
    parameter, the template or the stack's events."""
    return f"{{{{resolve:secretsmanager:{cfg.name(GOOGLE_SECRET_KIND)}:SecretString:{GOOGLE_SECRET_KEY}}}}}"


def _user_pool(b: LayerBuilder) -> cognito.UserPool:
    cfg, auth = b.cfg, b.cfg.auth
    mfa = cfg.auth.mfa  # OPTIONAL in dev, ON in prod unless the params say otherwise
    return b.add(
        cognito.UserPool(
            "UserPool",
            UserPoolName=b.named("user-pool"),
            UsernameAttributes=["email"],
            UsernameConfiguration=cognito.UsernameConfiguration(CaseSensitive=False),
            AutoVerifiedAttributes=["email"],
            Schema=[cognito.SchemaAttribute(Name="email", AttributeDataType="String", Required=True, Mutable=True)],
            Policies=cognito.Policies(
                PasswordPolicy=cognito.PasswordPolicy(
                    MinimumLength=12,
                    RequireLowercase=True,
                    RequireUppercase=True,
                    RequireNumbers=True,
                    RequireSymbols=True,
                    TemporaryPasswordValidityDays=3,
                )
            ),
            # TOTP authenticator apps only: SMS MFA would need an SNS role and sandbox exit.
            MfaConfiguration=mfa,
            **({"EnabledMfas": ["SOFTWARE_TOKEN_MFA"]} if mfa != "OFF" else {}),
            AccountRecoverySetting=cognito.AccountRecoverySetting(
                RecoveryMechanisms=[cognito.RecoveryOption(Name="verified_email", Priority=1)]
            ),
            AdminCreateUserConfig=cognito.AdminCreateUserConfig(AllowAdminCreateUserOnly=not auth.self_signup),
            VerificationMessageTemplate=cognito.VerificationMessageTemplate(DefaultEmailOption="CONFIRM_WITH_CODE"),
            UserAttributeUpdateSettings=cognito.UserAttributeUpdateSettings(
                AttributesRequireVerificationBeforeUpdate=["email"]
            ),
            DeletionProtection="ACTIVE" if cfg.is_prod else "INACTIVE",
            # Threat protection (formerly advanced security) is a feature of the Plus tier.
            UserPoolTier="PLUS" if auth.advanced_security else "ESSENTIALS",
            UserPoolAddOns=cognito.UserPoolAddOns(AdvancedSecurityMode="ENFORCED" if auth.advanced_security else "OFF"),
            UserPoolTags={tag["Key"]: tag["Value"] for tag in b.tag_list("user-pool")},
        )
    )


def _url_knobs(b: LayerBuilder) -> None:
    auth = b.cfg.auth
    url_pattern = (
        r"^(https://[^,\s]+|http://localhost(:\d+)?[^,\s]*)(,(https://[^,\s]+|http://localhost(:\d+)?[^,\s]*))*$"
    )
    for name, label, urls, what, key in (
        (
            "CallbackUrls",
            "Callback URLs",
            auth.callback_urls,
            "where the hosted UI may redirect after sign-in",
            "auth.callback_urls",
        ),
        (
            "LogoutUrls",
            "Sign-out URLs",
            auth.logout_urls,
            "where the hosted UI may redirect after sign-out",
            "auth.logout_urls",
        ),
    ):
        b.knob(
            name,
            "Sign-in (Cognito)",
            label,
            f"SPA app client: comma-separated URLs {what} (https, or http://localhost)",
            ",".join(urls),
            key=key,
            Type="CommaDelimitedList",
            AllowedPattern=url_pattern,
            ConstraintDescription="comma-separated https:// URLs (http:// only for localhost)",
        )


def _google(b: LayerBuilder, pool: cognito.UserPool) -> cognito.UserPoolIdentityProvider:
    b.knob(
        "GoogleClientId",
        "Sign-in (Cognito)",
        "Google OAuth client id",
        "Google OAuth 2.0 client id; empty leaves Google sign-in off. Its secret is read from Secrets Manager "
        f"secret {b.named(GOOGLE_SECRET_KIND)} (key {GOOGLE_SECRET_KEY})",
        b.cfg.auth.google_client_id,
        key="auth.google_client_id",
        AllowedPattern=r"^$|^[\w.-]+\.apps\.googleusercontent\.com$",
        ConstraintDescription="empty, or a client id ending in .apps.googleusercontent.com",
    )
    b.template.add_condition("HasGoogleClientId", Not(Equals(Ref("GoogleClientId"), "")))
    return b.add(
        cognito.UserPoolIdentityProvider(
            "GoogleIdentityProvider",
            Condition="HasGoogleClientId",
            UserPoolId=Ref(pool),
            ProviderName=GOOGLE,
            ProviderType=GOOGLE,
            ProviderDetails={
                "client_id": Ref("GoogleClientId"),
                "client_secret": google_secret_reference(b.cfg),
                "authorize_scopes": " ".join(OAUTH_SCOPES),
            },
            AttributeMapping={"email": "email", "email_verified": "email_verified", "name": "name", "username": "sub"},
        )
    )


def _identity_providers(google):
    """Ref of the provider is its name ("Google") and orders the client after it."""
    if google is None:
        return ["COGNITO"]
    return If("HasGoogleClientId", ["COGNITO", Ref(google)], ["COGNITO"])


def _token_validity(auth) -> dict:
    return {
        "AccessTokenValidity": auth.access_token_minutes,
        "IdTokenValidity": auth.id_token_minutes,
        "RefreshTokenValidity": auth.refresh_token_days,
        "TokenValidityUnits": cognito.TokenValidityUnits(AccessToken="minutes", IdToken="minutes", RefreshToken="days"),
    }


def _spa_client(b: LayerBuilder, pool: cognito.UserPool, google) -> cognito.UserPoolClient:
    """A public client: a browser cannot keep a secret, so no secret and the code flow with PKCE
    (the SPA sends code_challenge/code_verifier; the implicit flow is not allowed)."""
    return b.add(
        cognito.UserPoolClient(
            "UserPoolClient",
            ClientName=b.named("spa-client"),
            UserPoolId=Ref(pool),
            GenerateSecret=False,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=OAUTH_SCOPES,
            CallbackURLs=Ref("CallbackUrls"),
            LogoutURLs=Ref("LogoutUrls"),
            SupportedIdentityProviders=_identity_providers(google),
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            **_token_validity(b.cfg.auth),
        )
    )


def _alb_client(b: LayerBuilder, pool: cognito.UserPool, google) -> cognito.UserPoolClient:
    """The ALB's authenticate-cognito action needs a confidential client (with a secret) whose
    callback is https://<alb host>/oauth2/idpresponse."""
    cfg = b.cfg
    urls = cfg.auth.alb_callback_urls or (
        [f"https://{cfg.edge.domain.name}/oauth2/idpresponse"] if cfg.edge.domain else []
    )
    if not urls:
        raise ValueError(
            "auth.protect is alb: set auth.alb_callback_urls or edge.domain (the ALB client needs https://<host>/oauth2/idpresponse)"
        )
    b.knob(
        "AlbCallbackUrls",
        "Sign-in (Cognito)",
        "ALB callback URLs",
        "Load balancer app client: comma-separated https://<host>/oauth2/idpresponse URLs",
        ",".join(urls),
        key="auth.alb_callback_urls" if cfg.auth.alb_callback_urls else "edge.domain.name",
        Type="CommaDelimitedList",
        AllowedPattern=r"^https://[^,\s]+/oauth2/idpresponse(,https://[^,\s]+/oauth2/idpresponse)*$",
        ConstraintDescription="comma-separated https://<host>/oauth2/idpresponse URLs",
    )
    return b.add(
        cognito.UserPoolClient(
            "AlbUserPoolClient",
            ClientName=b.named("alb-client"),
            UserPoolId=Ref(pool),
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=OAUTH_SCOPES,
            CallbackURLs=Ref("AlbCallbackUrls"),
            SupportedIdentityProviders=_identity_providers(google),
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            **_token_validity(cfg.auth),
        )
    )


def build(cfg: AppConfig) -> Layer | None:
    if not cfg.auth.enabled:
        return None
    b = LayerBuilder(cfg, "auth", "Cognito user pool, app clients, hosted UI domain, identity providers")
    _url_knobs(b)
    pool = _user_pool(b)
    google = _google(b, pool) if cfg.auth.google_idp else None
    client = _spa_client(b, pool, google)
    domain = b.add(cognito.UserPoolDomain("UserPoolDomain", UserPoolId=Ref(pool), Domain=cognito_domain_prefix(cfg)))

    b.output("UserPoolId", Ref(pool), "Cognito user pool id", root=True)
    b.output("UserPoolArn", GetAtt(pool, "Arn"), "Cognito user pool ARN (ALB authenticate-cognito UserPoolArn)")
    b.output(
        "UserPoolClientId",
        Ref(client),
        "SPA app client id (public, code flow with PKCE; JWT authorizer audience)",
        root=True,
    )
    b.output("UserPoolDomain", Ref(domain), "Hosted UI domain prefix (ALB authenticate-cognito UserPoolDomain)")
    b.output(
        "UserPoolDomainUrl",
        Sub("https://${Prefix}.auth.${AWS::Region}.amazoncognito.com", Prefix=Ref(domain)),
        "Hosted UI base URL",
        root=True,
    )
    b.output(
        "UserPoolIssuerUrl",
        GetAtt(pool, "ProviderURL"),
        "Token issuer (JWT authorizer Issuer): https://cognito-idp.<region>.amazonaws.com/<pool id>",
    )
    if cfg.auth.protect == "alb":
        alb_client = _alb_client(b, pool, google)
        b.output(
            "AlbUserPoolClientId",
            Ref(alb_client),
            "Confidential app client id for the ALB's authenticate-cognito action",
        )
    return b.build()
