"""OpenAPI additions: every operation documents the shared error shape (crm.api.errors) for the
statuses any endpoint may answer with, so clients and contract tests see what really comes back."""

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "stable machine-readable code, e.g. not_found"},
                "message": {"type": "string", "description": "in the request's language"},
                "fields": {
                    "type": "object",
                    "description": "invalid input field → its messages",
                    "additionalProperties": True,
                },
            },
            "additionalProperties": True,
        }
    },
}
ERROR_STATUSES = {
    "400": "输入有误 / invalid input",
    "401": "未认证 / not authenticated",
    "403": "无权限 / permission denied",
    "404": "不存在或不在数据范围内 / not found or outside the data scope",
    "409": "冲突 / conflict",
    "415": "不支持的内容类型 / unsupported media type",
    "429": "请求过多或已锁定 / throttled or locked out",
}
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in ERROR_STATUSES.items():
                existing = responses.get(status)
                if existing is None or "content" not in existing:
                    responses[status] = {
                        "description": (existing or {}).get("description") or description,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    }
    return result
