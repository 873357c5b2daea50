"""Trim Twilio's 2010-04-01 API description to the call resources the simulator serves.

Upstream is about 1.9 MB for every resource of the API; the simulator checks only the
Calls list and instance paths. This keeps those paths, the schemas they reference
(followed transitively), the security scheme and the document's own header, unchanged.

Usage: ``python tests/twilio/trim_spec.py UPSTREAM.json tests/twilio/twilio_api_v2010.json``
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

KEPT_PATHS = (
    "/2010-04-01/Accounts/{AccountSid}/Calls.json",
    "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json",
)
SCHEMA_REF = re.compile(r'"#/components/schemas/([^"]+)"')


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {path: spec["paths"][path] for path in KEPT_PATHS}
    schemas: dict[str, Any] = {}
    pending = set(SCHEMA_REF.findall(json.dumps(paths)))
    while pending:
        name = pending.pop()
        schemas[name] = spec["components"]["schemas"][name]
        pending |= set(SCHEMA_REF.findall(json.dumps(schemas[name]))) - schemas.keys()
    tags = {
        tag
        for item in paths.values()
        for op in item.values()
        if isinstance(op, dict)
        for tag in op.get("tags", [])
    }
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "security": spec["security"],
        "tags": [tag for tag in spec["tags"] if tag["name"] in tags],
        "paths": paths,
        "components": {
            "securitySchemes": spec["components"]["securitySchemes"],
            "schemas": dict(sorted(schemas.items())),
        },
    }


if __name__ == "__main__":
    source, target = (Path(arg) for arg in sys.argv[1:3])
    trimmed = trim(json.loads(source.read_text()))
    target.write_text(json.dumps(trimmed, indent=2, ensure_ascii=False) + "\n")
