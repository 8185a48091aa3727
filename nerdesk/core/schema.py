"""Validation by the JSON Schemas in ``resources/schemas`` (bundles, model cards): the schema files
are the one statement of what nerdesk reads, and this module checks documents against them.

A small compiler for the subset of JSON Schema 2020-12 those files use (``type``, ``required``,
``properties``, ``additionalProperties``, ``propertyNames``, ``items``, ``enum``, ``const``,
``minimum``, ``maximum``, ``minLength``, ``minItems``, ``maxItems``, ``pattern``, ``oneOf``,
``anyOf``, local ``$ref``; ``format`` is an annotation, as the standard says by default). Each schema
is compiled once into nested checks: a bundle of 100,000 lines is checked at the speed of hand-written
code, without a runtime dependency (``tests/core/test_schema.py`` holds it equal to the
``jsonschema`` package on valid and broken documents). An unknown keyword is refused when the schema is
compiled, so a schema never says more than is checked.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

#: A check takes a value and where it is (a linked pair (parent, key), None at the top: formatted
#: only when something is wrong) and returns None for a valid value, else (where, problem).
Where = Any
Check = Callable[[Any, Where], "tuple[Where, str] | None"]

_ANNOTATIONS = {"$schema", "$id", "title", "description", "$comment", "format", "$defs", "default", "examples"}
#: The Python types of each JSON type, as json.loads makes them (an "integer" is stricter than the
#: standard, which lets 1.0 be one: offsets index text).
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_ARTICLE = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


class SchemaError(ValueError):
    """A schema that uses a keyword this module does not check."""


def where(w: Where) -> str:
    """``a.b[2].c`` for a linked (parent, key) location."""
    keys = []
    while w is not None:
        w, k = w
        keys.append(k)
    out = ""
    for k in reversed(keys):
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def compile_schema(schema: Any, root: dict[str, Any] | None = None, defs: dict[str, Check] | None = None) -> Check:
    """The check for ``schema`` (``root``: where ``$ref`` looks up ``#/$defs/...``; ``defs``: the
    definitions compiled so far)."""
    root = schema if root is None else root
    defs = {} if defs is None else defs
    if schema is True or schema == {}:
        return lambda v, p: None
    if schema is False:
        return lambda v, p: (p, "is not allowed here")
    unknown = (
        set(schema)
        - _ANNOTATIONS
        - {
            "type",
            "required",
            "properties",
            "additionalProperties",
            "propertyNames",
            "items",
            "enum",
            "const",
            "minimum",
            "maximum",
            "minLength",
            "minItems",
            "maxItems",
            "pattern",
            "oneOf",
            "anyOf",
            "$ref",
        }
    )
    if unknown:
        raise SchemaError(f"unsupported schema keywords: {sorted(unknown)}")
    checks: list[Check] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"only local $refs are supported, not {ref}")
        target = ref.removeprefix("#/$defs/")
        if target not in root.get("$defs", {}):
            raise SchemaError(f"{ref} is not defined")

        def by_ref(v: Any, p: Where, _t: str = target) -> tuple[Where, str] | None:
            if _t not in defs:  # compiled on first use: a definition may refer to itself
                defs[_t] = compile_schema(root["$defs"][_t], root, defs)
            return defs[_t](v, p)

        checks.append(by_ref)
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
        allowed = frozenset(t for n in names for t in _TYPES[n])
        want = " or ".join(_ARTICLE[n] for n in names)
        checks.append(lambda v, p: None if type(v) in allowed else (p, f"must be {want}"))
    if "const" in schema:
        c = schema["const"]
        checks.append(lambda v, p: None if v == c and type(v) is type(c) else (p, f"must be {json.dumps(c)}"))
    if "enum" in schema:
        options = list(schema["enum"])
        text = ", ".join(json.dumps(a) for a in options)
        checks.append(
            lambda v, p: None if any(v == a and type(v) is type(a) for a in options) else (p, f"must be one of {text}")
        )

    def num(v: Any) -> bool:
        return type(v) in (int, float)

    if "minimum" in schema:
        lo = schema["minimum"]
        checks.append(lambda v, p: (p, f"must be at least {lo}") if num(v) and v < lo else None)
    if "maximum" in schema:
        hi = schema["maximum"]
        checks.append(lambda v, p: (p, f"must be at most {hi}") if num(v) and v > hi else None)
    if "minLength" in schema:
        n_min = schema["minLength"]
        checks.append(
            lambda v, p: (p, f"must be at least {n_min} characters") if isinstance(v, str) and len(v) < n_min else None
        )
    if "pattern" in schema:
        rx = re.compile(schema["pattern"])
        checks.append(lambda v, p: (p, f"must match {rx.pattern}") if isinstance(v, str) and not rx.search(v) else None)
    if "minItems" in schema or "maxItems" in schema:
        a, b = schema.get("minItems", 0), schema.get("maxItems")
        checks.append(
            lambda v, p: (
                (p, f"must hold {a}" + (f" to {b}" if b != a else "") + " items")
                if isinstance(v, list) and (len(v) < a or (b is not None and len(v) > b))
                else None
            )
        )
    simple = schema.get("items")
    if isinstance(simple, dict) and set(simple) <= {"type"} | _ANNOTATIONS and "type" in simple:
        # items that need only a type (token offsets): one loop, no call per item
        kinds = [simple["type"]] if isinstance(simple["type"], str) else list(simple["type"])
        item_types = frozenset(t for n in kinds for t in _TYPES[n])
        item_want = " or ".join(_ARTICLE[n] for n in kinds)

        def typed_items(v: Any, p: Where) -> tuple[Where, str] | None:
            if type(v) is list:
                for i, x in enumerate(v):
                    if type(x) not in item_types:
                        return (p, i), f"must be {item_want}"
            return None

        checks.append(typed_items)
    elif "items" in schema:
        item = compile_schema(schema["items"], root, defs)

        def items(v: Any, p: Where) -> tuple[Where, str] | None:
            if isinstance(v, list):
                for i, x in enumerate(v):
                    bad = item(x, (p, i))
                    if bad:
                        return bad
            return None

        checks.append(items)
    if any(k in schema for k in ("required", "properties", "additionalProperties", "propertyNames")):
        checks.append(_object(schema, root, defs))
    for key, need in (("oneOf", 1), ("anyOf", None)):
        if key in schema:
            options = [compile_schema(s, root, defs) for s in schema[key]]
            checks.append(_alternatives(options, need))
    if len(checks) == 1:
        return checks[0]

    def all_of(v: Any, p: Where) -> tuple[Where, str] | None:
        for c in checks:
            bad = c(v, p)
            if bad:
                return bad
        return None

    return all_of


def _object(schema: dict[str, Any], root: dict[str, Any], defs: dict[str, Check]) -> Check:
    required = list(schema.get("required", ()))
    props = {k: compile_schema(s, root, defs) for k, s in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    extra_check = None if extra is True or extra is False else compile_schema(extra, root, defs)
    names = compile_schema(schema["propertyNames"], root, defs) if "propertyNames" in schema else None

    def check(v: Any, p: Where) -> tuple[Where, str] | None:
        if not isinstance(v, dict):
            return None
        for k in required:
            if k not in v:
                return (p, k), "is missing"
        for k, x in v.items():
            if names is not None and names(k, (p, k)):
                return (p, k), "is not an allowed name"
            c = props.get(k)
            if c is None and extra is False:
                return (p, k), "is not a known field"
            c = c or extra_check
            bad = c(x, (p, k)) if c is not None else None
            if bad:
                return bad
        return None

    return check


def _alternatives(options: list[Check], need: int | None) -> Check:
    def check(v: Any, p: Where) -> tuple[Where, str] | None:
        results = [o(v, p) for o in options]
        ok = sum(r is None for r in results)
        if (need is None and ok >= 1) or ok == need:
            return None
        if ok == 0:
            return next(r for r in results if r is not None)
        return p, "matches more than one of the allowed shapes"

    return check


@functools.lru_cache(maxsize=None)
def checker(name: str) -> Check:
    """The compiled check of ``resources/schemas/<name>.schema.json``."""
    from nerdesk.core.resources import resources_dir

    path = resources_dir() / "schemas" / f"{name}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return compile_schema(schema)


def problem(name: str, value: Any) -> tuple[str, str] | None:
    """None where ``value`` is valid under schema ``name``, else (path, what is wrong)."""
    bad = checker(name)(value, None)
    return None if bad is None else (where(bad[0]), bad[1])
