#!/usr/bin/python3
"""Cross-check of lua-cloudops' conversion against python3-protobuf (an independent protobuf
implementation), for spec/01-core/crosscheck_spec.lua.

    /usr/bin/python3 spec/support/crosscheck.py PYTHON_OUT_DIR IN.json OUT.json

PYTHON_OUT_DIR holds the code of `make python` (protoc --python_out). IN.json is
{ "types": [ { "name": full name, "hex": the bytes the Lua encoder made of the Lua fill } ] }.
For every type this builds its own fill (the same rules as spec/support/fill.lua, written again
here over Python descriptors), then
  (a) parses the Lua bytes and checks they equal that fill, with no unknown fields;
  (b) serializes its fill, for the Lua side to decode and compare with the Lua fill.
OUT.json: { "protobuf": version, "protobuf_file": path, "implementation": ..., "messages": [every
message full name of the schema's files], "results": { name: { "lua_to_python": "ok" or the
failure, "python_hex": hex or null, "python_error": text or null } } }.

The fill rules (keep in step with fill.lua): for a message at depth d (the root: 0), field number
N, element index i (0 singular; 1, 2 for the two elements of a repeated field / entries of a map):
  oneof: only the lowest-numbered member; message: the fill at d + 1, unset when d + 1 > 3;
  int32: N*1000 + i, int64: 2**33 + N*1000 + i, both negated for odd N outside google.*;
  uint32: 4294967295 - N*1000 - i; uint64: 2**40 + N*1000 + i; double: N + 0.5 + i/4;
  float: N + 0.25 + i/8; bool: True; string: f"{field name}-{i}-ünï漢🙂";
  bytes: b"\\x00\\xff\\x80" + field name + b"-" + str(i); enum: the value with the largest number;
  map keys: string f"key{i}-ключ", integers N*10 + i;
  Struct: STRUCT(N), Value: STRUCT(N) as a value, ListValue: LIST(N) (a root: N = 0), where
  STRUCT(n) = {"str": f"s{n}-é", "num": n + 0.5, "yes": True, "no": False, "none": None,
               "list": LIST(n), "obj": {"inner": f"x{n}"}, "empty_obj": {}}
  LIST(n) = [f"a{n}", n + 0.25, True, None, {"k": "ü"}, []]
"""

import difflib
import json
import os
import sys
import traceback

MAX_DEPTH = 3
SCHEMA_FILE_PREFIXES = ("temporal/",)
SCHEMA_FILES = ("rpc_status.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
                "google/protobuf/any.proto", "google/protobuf/struct.proto", "google/protobuf/empty.proto")


def main():
    py_root, in_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pyschema
    pool, impl, modules = pyschema.load(py_root)
    import google.protobuf
    from google.protobuf import descriptor, text_format

    try:
        from google.protobuf.message_factory import GetMessageClass as _get_class
    except ImportError:
        from google.protobuf import message_factory
        _factory = message_factory.MessageFactory(pool)
        _get_class = _factory.GetPrototype

    FD = descriptor.FieldDescriptor

    # ---- the fill ------------------------------------------------------------------------------

    def list_form(n):
        return [f"a{n}", n + 0.25, True, None, {"k": "ü"}, []]

    def struct_form(n):
        return {"str": f"s{n}-é", "num": n + 0.5, "yes": True, "no": False, "none": None,
                "list": list_form(n), "obj": {"inner": f"x{n}"}, "empty_obj": {}}

    def set_value(v, x):
        if x is None:
            v.null_value = 0
        elif isinstance(x, bool):
            v.bool_value = x
        elif isinstance(x, (int, float)):
            v.number_value = x
        elif isinstance(x, str):
            v.string_value = x
        elif isinstance(x, dict):
            v.struct_value.SetInParent()
            set_struct(v.struct_value, x)
        elif isinstance(x, list):
            v.list_value.SetInParent()
            set_list(v.list_value, x)
        else:
            raise TypeError(f"no Value form for {x!r}")

    def set_struct(s, d):
        for k, x in d.items():
            set_value(s.fields[k], x)

    def set_list(lst, xs):
        for x in xs:
            set_value(lst.values.add(), x)

    def wkt_message(type_name, n):
        cls = _get_class(pool.FindMessageTypeByName(type_name))
        m = cls()
        if type_name == "google.protobuf.Struct":
            set_struct(m, struct_form(n))
        elif type_name == "google.protobuf.Value":
            set_value(m, struct_form(n))
        elif type_name == "google.protobuf.ListValue":
            set_list(m, list_form(n))
        else:
            return None
        return m

    INT32 = (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32)
    INT64 = (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64)
    UINT32 = (FD.TYPE_UINT32, FD.TYPE_FIXED32)
    UINT64 = (FD.TYPE_UINT64, FD.TYPE_FIXED64)

    def value(msg_name, field, type_field, i, depth):
        """The value for element i of `field` (number, name), typed as `type_field` (the field
        itself, or a map's value field); a message, or None for a message past the depth."""
        n = field.number
        google = msg_name.startswith("google.")
        t = type_field.type
        if t in INT32:
            v = n * 1000 + i
            return -v if n % 2 == 1 and not google else v
        if t in INT64:
            v = 2 ** 33 + n * 1000 + i
            return -v if n % 2 == 1 and not google else v
        if t in UINT32:
            return 4294967295 - n * 1000 - i
        if t in UINT64:
            return 2 ** 40 + n * 1000 + i
        if t == FD.TYPE_DOUBLE:
            return n + 0.5 + i / 4
        if t == FD.TYPE_FLOAT:
            return n + 0.25 + i / 8
        if t == FD.TYPE_BOOL:
            return True
        if t == FD.TYPE_STRING:
            return f"{field.name}-{i}-ünï漢🙂"
        if t == FD.TYPE_BYTES:
            return b"\x00\xff\x80" + field.name.encode() + b"-" + str(i).encode()
        if t == FD.TYPE_ENUM:
            return max(type_field.enum_type.values, key=lambda v: v.number).number
        if t == FD.TYPE_MESSAGE:
            if depth + 1 > MAX_DEPTH:
                return None
            sub = type_field.message_type.full_name
            if sub in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
                return wkt_message(sub, n + i)
            return fill(type_field.message_type, depth + 1)
        raise TypeError(f"unsupported field type {t} of {msg_name}.{field.name}")

    def map_key(field, key_field, i):
        if key_field.type == FD.TYPE_STRING:
            return f"key{i}-ключ"
        if key_field.type in INT32 + INT64 + UINT32 + UINT64:
            return field.number * 10 + i
        raise TypeError(f"unsupported map key type {key_field.type}")

    def is_map(f):
        return (f.label == FD.LABEL_REPEATED and f.type == FD.TYPE_MESSAGE
                and f.message_type.GetOptions().map_entry)

    def fill(desc, depth):
        name = desc.full_name
        wkt = wkt_message(name, 0)
        if wkt is not None:
            return wkt
        msg = _get_class(desc)()
        oneofs_done = set()
        for f in sorted(desc.fields, key=lambda f: f.number):
            if is_map(f):
                kf = f.message_type.fields_by_name["key"]
                vf = f.message_type.fields_by_name["value"]
                m = getattr(msg, f.name)
                for i in (1, 2):
                    v = value(name, f, vf, i, depth)
                    if v is None:
                        continue
                    k = map_key(f, kf, i)
                    if vf.type == FD.TYPE_MESSAGE:
                        m[k].CopyFrom(v)
                    else:
                        m[k] = v
            elif f.label == FD.LABEL_REPEATED:
                r = getattr(msg, f.name)
                for i in (1, 2):
                    v = value(name, f, f, i, depth)
                    if v is None:
                        continue
                    if f.type == FD.TYPE_MESSAGE:
                        r.add().CopyFrom(v)
                    else:
                        r.append(v)
            else:
                if f.containing_oneof is not None:
                    if f.containing_oneof.name in oneofs_done:
                        continue
                    oneofs_done.add(f.containing_oneof.name)
                v = value(name, f, f, 0, depth)
                if v is None:
                    continue
                if f.type == FD.TYPE_MESSAGE:
                    getattr(msg, f.name).CopyFrom(v)
                else:
                    setattr(msg, f.name, v)
        return msg

    # ---- checks --------------------------------------------------------------------------------

    def text(m):
        return text_format.MessageToString(m, as_utf8=True).splitlines()

    def unknown_bytes(m):
        """Bytes of unknown fields anywhere in m (0 when it has none)."""
        copy = type(m)()
        copy.CopyFrom(m)
        copy.DiscardUnknownFields()
        return m.ByteSize() - copy.ByteSize()

    with open(in_path, encoding="utf-8") as f:
        request = json.load(f)

    results = {}
    for item in request["types"]:
        name = item["name"]
        res = {"lua_to_python": None, "python_hex": None, "python_error": None}
        results[name] = res
        try:
            desc = pool.FindMessageTypeByName(name)
            expected = fill(desc, 0)
        except Exception:
            res["lua_to_python"] = res["python_error"] = "python fill failed: " + traceback.format_exc(limit=3)
            continue
        try:
            res["python_hex"] = expected.SerializeToString().hex()
        except Exception:
            res["python_error"] = "python serialize failed: " + traceback.format_exc(limit=3)
        try:
            parsed = type(expected)()
            parsed.ParseFromString(bytes.fromhex(item["hex"]))
            problems = []
            extra = unknown_bytes(parsed)
            if extra:
                problems.append(f"{extra} bytes of unknown fields")
            if parsed != expected:
                diff = list(difflib.unified_diff(text(expected), text(parsed), "python fill", "parsed lua bytes",
                                                 lineterm="", n=1))
                problems.append("differs from the Python fill:\n" + ("\n".join(diff[:40]) or "(in unknown fields only)"))
            res["lua_to_python"] = "ok" if not problems else "; ".join(problems)
        except Exception as e:
            res["lua_to_python"] = f"python cannot parse the Lua bytes: {type(e).__name__}: {e}"

    # Every message of the schema's files, to compare with the Lua registry.
    messages = []

    def walk(d):
        messages.append(d.full_name)
        for nd in d.nested_types:
            walk(nd)

    files = set()
    for mod in modules:
        files.add(sys.modules[mod].DESCRIPTOR.name)
    files.update(SCHEMA_FILES)
    for fname in sorted(files):
        if not (fname.startswith(SCHEMA_FILE_PREFIXES) or fname in SCHEMA_FILES):
            continue
        fd = pool.FindFileByName(fname)
        for d in fd.message_types_by_name.values():
            walk(d)

    out = {
        "protobuf": getattr(google.protobuf, "__version__", "?"),
        "protobuf_file": os.path.abspath(google.protobuf.__file__),
        "implementation": impl,
        "modules": modules,
        "messages": sorted(messages),
        "results": results,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
