"""AWS failures as one line an operator can act on (no region, no or expired credentials, a missing
resource, a denied call), never a traceback."""

from __future__ import annotations

EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "AuthFailure",
    "InvalidAccessKeyId",
}
MISSING = {
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "NotFound",
    "NotFoundException",
}


def describe_aws_error(exc: BaseException) -> str | None:
    """One line for a botocore failure; None for anything that is not one."""
    from botocore import exceptions as e

    if isinstance(exc, e.NoRegionError):
        return "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region"
    if isinstance(exc, e.NoCredentialsError | e.PartialCredentialsError):
        return (
            "no AWS credentials found: configure them (aws configure, aws sso login, AWS_PROFILE) "
            "or pass --profile"
        )
    if isinstance(exc, e.ProfileNotFound):
        return f"{exc}: check --profile or AWS_PROFILE"
    if isinstance(exc, e.TokenRetrievalError | e.SSOTokenLoadError | e.UnauthorizedSSOTokenError):
        return "the AWS SSO session has expired or is missing: run `aws sso login`"
    if isinstance(exc, e.EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, e.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", "")).strip()
        operation = exc.operation_name
        if code in EXPIRED:
            return "the AWS credentials have expired: refresh them (aws sso login, or new keys) and run again"
        if code in REJECTED:
            return f"AWS rejected the credentials ({code}): check the profile or keys in use"
        if code.startswith("AccessDenied") or code in {"UnauthorizedOperation", "AuthorizationError"}:
            return f"AWS denied {operation}: {message or code}"
        if code in MISSING:
            return f"{operation}: {message or code} (does it exist in this account and region?)"
        return f"AWS {operation} failed ({code}): {message}"
    if isinstance(exc, e.BotoCoreError):
        return f"AWS: {exc}"
    return None
