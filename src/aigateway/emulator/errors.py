"""Azure OpenAI error bodies, byte for byte as seen on real Azure (see shared facts azure-openai.md)."""

from __future__ import annotations

import math
from typing import Any

import orjson

JSON = dict[str, Any]

UNAUTHORIZED: JSON = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
        "a valid key for an active subscription and use a correct regional API endpoint for your resource.",
    }
}
DEPLOYMENT_NOT_FOUND: JSON = {
    "error": {
        "code": "DeploymentNotFound",
        "message": "The API deployment for this resource does not exist. If you created the deployment within "
        "the last 5 minutes, please wait a moment and try again.",
    }
}
RESOURCE_NOT_FOUND: JSON = {"error": {"code": "404", "message": "Resource not found"}}
API_VERSION_NOT_SUPPORTED: JSON = {"error": {"code": "BadRequest", "message": "API version not supported"}}
# The code was not seen in a capture; BadRequest is what Azure uses for its other api-version errors.
RESPONSES_API_VERSION_TOO_OLD: JSON = {
    "error": {
        "code": "BadRequest",
        "message": "Azure OpenAI Responses API is enabled only for api-version 2025-03-01-preview and later",
    }
}
V1_OPERATION_UNSUPPORTED: JSON = {"error": {"message": "The requested operation is unsupported."}}
TEMPERATURE_UNSUPPORTED: JSON = {
    "error": {
        "message": "Unsupported parameter: 'temperature' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": None,
    }
}
TOO_MANY_EMBEDDING_INPUTS: JSON = {
    "error": {
        "message": "Too many inputs. The max number of inputs is 2048.  We hope to increase the number of "
        "inputs per request soon. Please contact us through an Azure support request at: "
        "https://go.microsoft.com/fwlink/?linkid=2213926 for further questions.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}
# OpenAI's wording for an empty `input`; Azure's exact text for this case was not captured.
INVALID_INPUT: JSON = {
    "error": {
        "message": "'$.input' is invalid. Please check the API reference: "
        "https://platform.openai.com/docs/api-reference.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}
METHOD_NOT_ALLOWED: JSON = {"error": {"code": "405", "message": "Method not allowed"}}


def operation_not_supported(operation: str, model: str) -> JSON:
    """Dated-path answer for an operation the model cannot do; Azure names the model, not the deployment."""
    return {
        "error": {
            "code": "OperationNotSupported",
            "message": f"The {operation} operation does not work with the specified model, {model}. Please "
            "choose different model and try again. You can learn more about which models can be used with "
            "each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
        }
    }


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> JSON:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def previous_response_not_found(response_id: str) -> JSON:
    return invalid_request(
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def item_not_persisted(item_id: str) -> JSON:
    return invalid_request(
        f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. Try again "
        "with `store` set to true, or remove this item from your input.",
        param="input",
    )


def invalid_metadata(problem: str, code: str) -> JSON:
    """OpenAI's wording for a `metadata` over its limits [inf: Azure's exact text was not captured]."""
    return invalid_request(f"Invalid 'metadata': {problem}", param="metadata", code=code)


def prompt_filtered() -> JSON:
    """Azure's 400 for a prompt its content filter blocked (facts §4, [I25]); here the jailbreak filter fired,
    the one coding prompts trip by mistake. A 400: never retried, so no Retry-After."""
    safe = {"filtered": False, "severity": "safe"}
    return {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
            "policy. Please modify your prompt and retry. To learn more about our content filtering policies please "
            "read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": safe,
                    "jailbreak": {"filtered": True, "detected": True},
                    "self_harm": safe,
                    "sexual": safe,
                    "violence": safe,
                },
            },
        }
    }


RATE_LIMIT_IN_BAND_MESSAGE = "Rate limit is exceeded. Try again in 26 seconds."


def in_band_rate_limit() -> JSON:
    """The nested error Azure has sent inside a 200 Responses stream (openai/codex issue, issue 13 point 3)."""
    return {"type": "server_error", "code": "rate_limit_exceeded", "message": RATE_LIMIT_IN_BAND_MESSAGE}


def response_not_found(response_id: str) -> JSON:
    return invalid_request(f"Response with id '{response_id}' not found.", code="not_found")


def context_length_exceeded(tokens: int, limit: int = 8192) -> JSON:
    return invalid_request(
        f"This model's maximum context length is {limit} tokens, however you requested {tokens} tokens "
        f"({tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length."
    )


def server_error(request_id: str) -> JSON:
    return {
        "error": {
            "message": "The server had an error processing your request. Sorry about that! You can retry your "
            "request, or contact us through an Azure support request at: "
            "https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error. (Please include "
            f"the request ID {request_id} in your email.)",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def service_unavailable() -> JSON:
    # No verified Azure 503 body exists; this uses the documented envelope.
    return {
        "error": {
            "message": "The service is temporarily unable to process your request. Please retry later.",
            "type": "server_error",
            "param": None,
            "code": "ServiceUnavailable",
        }
    }


def rate_limited(
    *,
    deployment: str,
    model: str,
    region: str,
    operation: str,
    api_version: str | None,
    retry_after: float,
    kind: str = "token",
) -> JSON:
    """Azure's RateLimitReached body. `kind` is "call" for RPM breaches, "token" for TPM breaches."""
    api = "OpenAI Language Model Instance API" if api_version is None else f"Azure OpenAI API version {api_version}"
    seconds = max(1, math.ceil(retry_after))
    return {
        "error": {
            "code": "RateLimitReached",
            "message": f"Your requests to {deployment} for {model} in {region} have exceeded the {kind} rate "
            f"limit for your current AIServices S0 pricing tier. This request was for {operation} under {api}. "
            f"Please retry after {seconds} seconds. To increase your default rate limit, visit: "
            "https://aka.ms/oai/quotaincrease.",
        }
    }


def generic_error(status: int) -> JSON:
    return {"error": {"code": str(status), "message": f"The emulator was asked to fail with status {status}."}}


def dumps(body: JSON) -> bytes:
    return orjson.dumps(body)
