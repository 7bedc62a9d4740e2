"""Where an ONNX file's external data lives, read without the onnx package.

A model over 2 GB keeps its weights in separate files that the ONNX file
names (TensorProto ``external_data``, key ``location``). A crafted file can
name any file on the disk (``../../secret``, ``/etc/passwd``) and have it
loaded as weights, and onnxruntime checks this only in recent versions. So
the names are read here, straight from the protobuf (the classify-only build
has no onnx package), and each must name an ordinary file inside the model's
own folder.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from allgui.core.errors import ModelFileError
from allgui.core.files.text import terminal_text

# Message fields (onnx.proto) that hold graphs or tensors, by the message that has them.
_GRAPH_IN_MODEL = (7,)  # ModelProto.graph
_FUNCTIONS_IN_MODEL = 25  # ModelProto.functions
_TRAINING_IN_MODEL = 20  # ModelProto.training_info: .initialization 1, .algorithm 2
_NODES_IN_GRAPH, _TENSORS_IN_GRAPH, _SPARSE_IN_GRAPH = 1, 5, 15
_NODES_IN_FUNCTION, _ATTRS_IN_FUNCTION = 7, 11
_ATTRS_IN_NODE = 5
_TENSOR_IN_ATTR, _GRAPH_IN_ATTR, _TENSORS_IN_ATTR, _GRAPHS_IN_ATTR = 5, 6, 10, 11
_SPARSE_IN_ATTR, _SPARSES_IN_ATTR = 22, 23
_EXTERNAL_IN_TENSOR = 13  # TensorProto.external_data: StringStringEntryProto key 1, value 2
_DEPTH = 64  # nested subgraphs (Loop, If, Scan bodies) deeper than this are refused


class _Malformed(ValueError):
    pass


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, memoryview | None]]:
    """(field number, payload) for each field of one message; payload is None
    for the fields that are not length-delimited (numbers)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
            yield number, None
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _Malformed("field runs past the end")
            yield number, buf[pos : pos + size]
            pos += size
        elif wire in (3, 4):  # deprecated groups: no payload of their own
            continue
        else:
            raise _Malformed(f"wire type {wire}")
        if pos > len(buf):
            raise _Malformed("field runs past the end")


def _sub(buf: memoryview, *numbers: int) -> Iterator[memoryview]:
    for number, payload in _fields(buf):
        if number in numbers and payload is not None:
            yield payload


def _tensor_locations(tensor: memoryview) -> Iterator[str]:
    for entry in _sub(tensor, _EXTERNAL_IN_TENSOR):
        items = {n: bytes(p) for n, p in _fields(entry) if p is not None}
        if items.get(1) == b"location":
            yield items.get(2, b"").decode("utf-8", "surrogateescape")


def _sparse_locations(sparse: memoryview) -> Iterator[str]:
    for tensor in _sub(sparse, 1, 2):  # values, indices
        yield from _tensor_locations(tensor)


def _attribute_locations(attr: memoryview, depth: int) -> Iterator[str]:
    for number, payload in _fields(attr):
        if payload is None:
            continue
        if number in (_TENSOR_IN_ATTR, _TENSORS_IN_ATTR):
            yield from _tensor_locations(payload)
        elif number in (_SPARSE_IN_ATTR, _SPARSES_IN_ATTR):
            yield from _sparse_locations(payload)
        elif number in (_GRAPH_IN_ATTR, _GRAPHS_IN_ATTR):
            yield from _graph_locations(payload, depth + 1)


def _graph_locations(graph: memoryview, depth: int) -> Iterator[str]:
    if depth > _DEPTH:
        raise _Malformed("subgraphs nested too deep")
    for number, payload in _fields(graph):
        if payload is None:
            continue
        if number == _TENSORS_IN_GRAPH:
            yield from _tensor_locations(payload)
        elif number == _SPARSE_IN_GRAPH:
            yield from _sparse_locations(payload)
        elif number == _NODES_IN_GRAPH:
            for attr in _sub(payload, _ATTRS_IN_NODE):
                yield from _attribute_locations(attr, depth)


def external_locations(data: bytes | memoryview | mmap.mmap) -> list[str]:
    """Every external-data location a serialised ONNX model names.

    Raises ValueError when the bytes are not a well-formed protobuf message.
    """
    try:
        return _model_locations(memoryview(data))
    except _Malformed as exc:
        reason = str(exc)
    # raised here, once the parse's frames (and their views of ``data``) are
    # gone, so a memory-mapped file can be closed
    raise ValueError(f"not a well-formed ONNX file: {reason}")


def _model_locations(buf: memoryview) -> list[str]:
    found: list[str] = []
    for number, payload in _fields(buf):
        if payload is None:
            continue
        if number in _GRAPH_IN_MODEL:
            found += _graph_locations(payload, 0)
        elif number == _TRAINING_IN_MODEL:
            for graph in _sub(payload, 1, 2):
                found += _graph_locations(graph, 0)
        elif number == _FUNCTIONS_IN_MODEL:
            for node in _sub(payload, _NODES_IN_FUNCTION):
                for attr in _sub(node, _ATTRS_IN_NODE):
                    found += _attribute_locations(attr, 0)
            for attr in _sub(payload, _ATTRS_IN_FUNCTION):
                found += _attribute_locations(attr, 0)
    return found


def check_external_data(path: str | os.PathLike, locations: list[str], limit: int) -> int:
    """Check each location against the model file's folder; returns their total size.

    Raises ModelFileError for a location that is absolute, leaves the folder
    (``..``, a link pointing out), is missing or not an ordinary file, or when
    together they exceed ``limit`` bytes.
    """
    model = Path(path)
    name = terminal_text(model.name)
    folder = os.path.realpath(model.parent)
    total = 0
    for location in dict.fromkeys(locations):
        shown = terminal_text(location)
        parts = location.replace("\\", "/").split("/")
        if not location or os.path.isabs(location) or location[:1] in "/\\" or ".." in parts:
            raise ModelFileError(
                f"{name} asks for weights from '{shown}', outside its own folder; allgui "
                "loads a model's data files only from beside it. The file may be malicious.",
            )
        resolved = os.path.realpath(os.path.join(folder, location))
        if os.path.commonpath([folder, resolved]) != folder:
            raise ModelFileError(
                f"{name} asks for weights from '{shown}', which leads outside its own "
                "folder; allgui loads a model's data files only from beside it.",
            )
        try:
            info = os.stat(resolved)
        except OSError as exc:
            raise ModelFileError(
                f"{name} keeps its weights in '{shown}', which is missing; keep that file "
                "beside the model.", str(exc),
            ) from exc
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"{name} asks for weights from '{shown}', which is not a file.")
        total += info.st_size
    if total > limit:
        raise ModelFileError(
            f"{name}'s data files hold {total / 2**30:.1f} GB, more than allgui loads "
            f"({limit / 2**30:.0f} GB); it is not a model allgui exported.",
        )
    return total
