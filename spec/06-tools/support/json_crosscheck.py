#!/usr/bin/python3
"""JSON cross-check of cloudops.json against python3-protobuf's json_format, for
spec/06-tools/json_crosscheck_spec.lua.

    /usr/bin/python3 json_crosscheck.py PYTHON_OUT_DIR IN.json OUT.json

PYTHON_OUT_DIR holds the code of `make python`. IN.json is { "types": [ { "name": full name,
"hex": the message's bytes (made by the Lua encoder), "lua_json": cloudops.json.encode's text
of the same message } ] }. For each type this parses the bytes, then
  (a) MessageToJson of it, compared with the Lua JSON once both are parsed (json.loads);
  (b) json_format.Parse of the Lua JSON, compared with the message parsed from the bytes
      (as messages, or where an Any's bytes order map entries differently, as text);
and hands back its own JSON for the Lua side to parse. OUT.json: { "protobuf": version,
"implementation": ..., "results": { name: { "equal": "ok" or the difference,
"parse": "ok" or the failure, "python_json": text or null } } }.
"""

import json
import os
import sys
import traceback


def first_difference(a, b, path="$"):
    """A short description of where two parsed JSON values differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return f"{path}.{k}: only in Lua's JSON"
            if k not in b:
                return f"{path}.{k}: only in Python's JSON"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} elements in Python's JSON, {len(b)} in Lua's"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    # bool is an int in Python: keep true distinct from 1
    if type(a) is bool or type(b) is bool:
        return None if a is b else f"{path}: {a!r} (Python) vs {b!r} (Lua)"
    if a == b and (isinstance(a, (int, float)) == isinstance(b, (int, float))):
        return None
    return f"{path}: {a!r} (Python) vs {b!r} (Lua)"


def main():
    py_root, in_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
    import pyschema
    pool, impl, _ = pyschema.load(py_root)
    import google.protobuf
    from google.protobuf import json_format, text_format
    try:
        from google.protobuf.message_factory import GetMessageClass as get_class
    except ImportError:
        from google.protobuf import message_factory
        get_class = message_factory.MessageFactory(pool).GetPrototype

    def text(m):
        return text_format.MessageToString(m, as_utf8=True)

    with open(in_path, encoding="utf-8") as f:
        request = json.load(f)

    results = {}
    for item in request["types"]:
        name = item["name"]
        res = {"equal": None, "parse": None, "python_json": None}
        results[name] = res
        try:
            cls = get_class(pool.FindMessageTypeByName(name))
            msg = cls()
            msg.ParseFromString(bytes.fromhex(item["hex"]))
        except Exception:
            res["equal"] = res["parse"] = "python cannot parse the bytes: " + traceback.format_exc(limit=2)
            continue
        try:
            py_json = json_format.MessageToJson(msg)
            res["python_json"] = py_json
            diff = first_difference(json.loads(py_json), json.loads(item["lua_json"]))
            res["equal"] = "ok" if diff is None else diff
        except Exception:
            res["equal"] = "MessageToJson failed: " + traceback.format_exc(limit=2)
        try:
            parsed = cls()
            json_format.Parse(item["lua_json"], parsed)
            # An Any holds bytes, and two encoders may order map entries differently in them:
            # where the messages differ, compare the text form, which expands each Any and
            # sorts map entries.
            got, want = text(parsed), text(msg)
            if parsed == msg or got == want:
                res["parse"] = "ok"
            else:
                res["parse"] = ("Parse of the Lua JSON gives another message:\n" + got[:2000] +
                                "\n-- expected --\n" + want[:2000])
        except Exception:
            res["parse"] = "Parse of the Lua JSON failed: " + traceback.format_exc(limit=2)

    out = {
        "protobuf": getattr(google.protobuf, "__version__", "?"),
        "implementation": impl,
        "results": results,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
