"""The OpenAPI 3.1 description of the Open311 API (``/open311/v2/openapi.json``), written by hand as data.

The response schemas are those of the GeoReport v2 specification's tables (the same as the JSON Schemas
vendored in ``tests/schemas/``); every status code an operation documents is one it answers with
(``tests/unit/api/test_open311_openapi.py`` reaches each, and runs schemathesis over the whole document).
"""

from __future__ import annotations

from typing import Any

PREFIX = "/open311/v2"

_TEXT = {"type": ["string", "null"]}
_ID = {"type": ["string", "integer"]}
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
    "Errors": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Error"}},
    "Service": {
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": _ID,
            "service_name": {"type": "string"},
            "description": _TEXT,
            "metadata": {"type": "boolean"},
            "type": {"enum": ["realtime", "batch", "blackbox"]},
            "keywords": _TEXT,
            "group": _TEXT,
        },
    },
    "Services": {"type": "array", "items": {"$ref": "#/components/schemas/Service"}},
    "ServiceDefinition": {
        "type": "object",
        "required": ["service_code", "attributes"],
        "properties": {
            "service_code": _ID,
            "attributes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["variable", "code", "datatype", "required", "order", "description"],
                    "properties": {
                        "variable": {"type": "boolean"},
                        "code": _ID,
                        "datatype": {
                            "enum": [
                                "string",
                                "number",
                                "datetime",
                                "text",
                                "singlevaluelist",
                                "multivaluelist",
                            ]
                        },
                        "required": {"type": "boolean"},
                        "datatype_description": _TEXT,
                        "order": {"type": "integer", "minimum": 1},
                        "description": {"type": "string"},
                        "values": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["key", "name"],
                                "properties": {"key": _ID, "name": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    },
    "ServiceRequest": {
        "type": "object",
        "required": [
            "service_request_id",
            "status",
            "service_name",
            "service_code",
            "requested_datetime",
            "updated_datetime",
        ],
        "properties": {
            "service_request_id": _ID,
            "status": {"enum": ["open", "closed"]},
            "status_notes": _TEXT,
            "service_name": {"type": "string"},
            "service_code": _ID,
            "description": {"type": ["string", "null"], "maxLength": 4000},
            "agency_responsible": _TEXT,
            "service_notice": _TEXT,
            "requested_datetime": _TIME,
            "updated_datetime": _TIME,
            "expected_datetime": _TIME,
            "address": _TEXT,
            "address_id": {"type": ["string", "integer", "null"]},
            "zipcode": {"type": ["string", "integer", "null"]},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "media_url": {"type": "string", "format": "uri"},
        },
    },
    "ServiceRequests": {"type": "array", "items": {"$ref": "#/components/schemas/ServiceRequest"}},
    "Created": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "anyOf": [{"required": ["service_request_id"]}, {"required": ["token"]}],
            "properties": {
                "service_request_id": _ID,
                "token": {"type": "string"},
                "service_notice": _TEXT,
                "account_id": _TEXT,
            },
        },
    },
    "Tokens": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["service_request_id", "token"],
            "properties": {"service_request_id": _ID, "token": {"type": "string"}},
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["changeset", "contact", "key_service", "endpoints"],
        "properties": {
            "changeset": {"type": "string"},
            "contact": {"type": "string"},
            "key_service": {"type": "string"},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["specification", "url", "changeset", "type", "formats"],
                    "properties": {
                        "specification": {"type": "string"},
                        "url": {"type": "string"},
                        "changeset": {"type": "string"},
                        "type": {"enum": ["production", "test"]},
                        "formats": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}

_PARAMETERS: dict[str, Any] = {
    "format": {
        "name": "format",
        "in": "path",
        "required": True,
        "schema": {"enum": ["json", "xml"]},
        "description": "json (application/json) or xml (text/xml)",
    },
    "lang": {
        "name": "lang",
        "in": "query",
        "schema": {"enum": ["zh", "en"]},
        "description": "language of names, notes and errors (default zh)",
    },
    "jurisdiction_id": {
        "name": "jurisdiction_id",
        "in": "query",
        "schema": {"type": "string"},
        "description": "ignored: this endpoint serves one jurisdiction",
    },
}

_WHY = {
    400: "bad parameters (each named in the error list)",
    403: "an api_key that is not valid, or one that may not write",
    404: "no such service, request (in the key's scope) or token",
    429: "too many calls from this key or, without a key, this address",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _answer(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
            "text/xml": {"schema": {"type": "string"}},
        },
    }


def _operation(
    summary: str, schema: str, codes: tuple[int, ...], params: list[Any], **extra: Any
) -> dict[str, Any]:
    responses = {"200": _answer(schema, "OK")} | {str(c): _answer("Errors", _WHY[c]) for c in codes}
    return {
        "summary": summary,
        "parameters": [_ref("format"), _ref("lang"), _ref("jurisdiction_id"), *params],
        "responses": responses,
        **extra,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema or {"type": "string"}, "description": description}


_KEY = _query("api_key", "optional: a reading key sees its scope (personal data if allowed)")
_FILTERS = [
    _query("service_request_id", "comma-separated case numbers; overrides every other filter"),
    _query("service_code", "comma-separated service codes"),
    _query("start_date", "earliest time reported (w3 date-time)", _TIME),
    _query("end_date", "latest time reported (w3 date-time), at most 90 days after start_date", _TIME),
    _query("status", "open, closed or both, comma-separated"),
    _query("page", "page number, from 1", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
    _query(
        "page_size",
        "requests per page (at most and by default 1000)",
        {"type": "integer", "minimum": 1, "maximum": 1000},
    ),
]

_POST_FIELDS: dict[str, Any] = {
    "api_key": {"type": "string", "description": "a key that may write (also as query parameter)"},
    "service_code": {"type": "string"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "long": {"type": "number", "minimum": -180, "maximum": 180},
    "address_string": {"type": "string", "maxLength": 200},
    "address_id": {"type": "string", "description": "the id of a building (楼栋/院落)"},
    "description": {"type": "string", "maxLength": 4000},
    "media_url": {"type": "string", "format": "uri"},
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "phone": {"type": "string"},
    "email": {"type": "string", "description": "accepted and not kept"},
    "device_id": {"type": "string", "description": "accepted and not kept"},
    "account_id": {"type": "string", "description": "accepted and not kept"},
}

_POST = _operation(
    "Create a service request (a case, source 系统对接): attribute[code]=value for the service definition's attributes",
    "Created",
    (400, 403, 404, 429),
    [],
    security=[{"api_key": []}, {"api_key_header": []}],
    requestBody={
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["service_code"],
                    "properties": _POST_FIELDS,
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    },
)


def document() -> dict[str, Any]:
    """The OpenAPI document of the whole API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Open311 GeoReport v2 · 网格治理指挥平台",
            "version": "2.0",
            "description": "Cases as GeoReport v2 service requests, categories as services; JSON and XML.",
        },
        "paths": {
            f"{PREFIX}/discovery.{{format}}": {
                "get": _operation("Service discovery", "Discovery", (400, 429), [])
            },
            f"{PREFIX}/services.{{format}}": {
                "get": _operation("Services (categories)", "Services", (400, 429), [])
            },
            f"{PREFIX}/services/{{service_code}}.{{format}}": {
                "get": _operation(
                    "Service definition",
                    "ServiceDefinition",
                    (400, 404, 429),
                    [_path("service_code", "a service code")],
                )
            },
            f"{PREFIX}/requests.{{format}}": {
                "get": _operation(
                    "Service requests, newest first", "ServiceRequests", (400, 403, 429), [_KEY, *_FILTERS]
                ),
                "post": _POST,
            },
            f"{PREFIX}/requests/{{service_request_id}}.{{format}}": {
                "get": _operation(
                    "One service request",
                    "ServiceRequests",
                    (400, 403, 404, 429),
                    [_KEY, _path("service_request_id", "a case number")],
                )
            },
            f"{PREFIX}/tokens/{{token}}.{{format}}": {
                "get": _operation(
                    "The request a token stands for",
                    "Tokens",
                    (400, 404, 429),
                    [_path("token", "a POST's token")],
                )
            },
            f"{PREFIX}/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "parameters": _PARAMETERS,
            "securitySchemes": {
                "api_key": {"type": "apiKey", "in": "query", "name": "api_key"},
                "api_key_header": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
