"""The schema's Python code (`make python`, protoc --python_out) loaded into python3-protobuf's
default descriptor pool, for the cross-checks (crosscheck.py, json_crosscheck.py)."""
import importlib
import os
import sys


def import_all(root):
    """Imports every *_pb2 module under root (they register their types); returns their names."""
    names = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith("_pb2.py"):
                rel = os.path.relpath(os.path.join(dirpath, f[:-3]), root)
                names.append(rel.replace(os.sep, "."))
    for n in sorted(names):
        importlib.import_module(n)
    return names


def load(py_root):
    """Returns (pool, implementation name, module names) once every module under py_root is in."""
    sys.path.insert(0, os.path.abspath(py_root))
    from google.protobuf import descriptor_pool
    # Imported first, from python3-protobuf: anything under py_root must not shadow them.
    from google.protobuf import any_pb2, duration_pb2, empty_pb2, struct_pb2, timestamp_pb2  # noqa: F401
    try:
        from google.protobuf.internal import api_implementation
        impl = api_implementation.Type()
    except Exception:  # pragma: no cover
        impl = "unknown"
    names = import_all(py_root)
    return descriptor_pool.Default(), impl, names
