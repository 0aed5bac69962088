"""Fuzzing ``fastem.load`` with damaged and forged model files of every
family: it returns a model equal to the original or raises ModelFileError,
never anything else, and reads no more than the model the file declares.

Damage (flipped bytes, truncation, swapped, lost, doubled or renamed
members, rewritten headers) must give the original model or the error; a
forgery (digests and manifest made to match the change: what someone who
means harm writes) must give the error or a model that still works: finite
probabilities that sum to one, no NaN scores.  Derandomised; the budget is
``fuzzing.EXAMPLES`` per surface.
"""

import collections
import io
import json
import os
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastem
from fuzzing import (DTYPES, FUZZ, N_MODELS, SPECIAL, archive, forge, header_bytes, json_values,
                     load_bytes, members, metadata_of, npy, same_model, saved_models, shapes,
                     usable, with_metadata)

pytest.importorskip("pandas")

#: (surface, outcome) -> cases: written to $FASTEM_FUZZ_REPORT after the
#: module (the long run's figures).
OUTCOMES = collections.Counter()
PEAK = {"bytes": 0, "case": None}


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("FASTEM_FUZZ_REPORT")
    if path:
        report = {"cases": {f"{s} {o}": n for (s, o), n in sorted(OUTCOMES.items())},
                  "peak_load_bytes": PEAK}
        with open(path, "w") as f:
            json.dump(report, f, indent=1)


model_index = st.integers(0, N_MODELS - 1)


def _load(surface, data, original, test, forged):
    """The property, with the outcome counted (and load's peak memory
    traced when the long run asks)."""
    trace = bool(os.environ.get("FASTEM_FUZZ_REPORT"))
    if trace:
        tracemalloc.start()
    try:
        model = load_bytes(data)
    except fastem.ModelFileError:
        OUTCOMES[surface, "refused"] += 1
        return None
    finally:
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            if peak > PEAK["bytes"]:
                PEAK.update(bytes=peak, case=f"{surface}, file of {len(data)} bytes")
    if forged:
        assert usable(model, test)
        OUTCOMES[surface, "loaded, works"] += 1
    else:
        assert same_model(original, model)
        OUTCOMES[surface, "loaded, equal"] += 1
    return model


def test_every_saved_model_loads_equal():
    for label, model, data, test in saved_models():
        assert same_model(model, load_bytes(data)), label
        # numpy's own compressed archives read the same
        again = archive(members(data), zipfile.ZIP_DEFLATED)
        assert same_model(model, load_bytes(again)), label


@FUZZ
@given(model_index, st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                       st.integers(1, 255)), min_size=1, max_size=8))
def test_flipped_bytes(which, flips):
    label, model, data, test = saved_models()[which]
    damaged = bytearray(data)
    for where, xor in flips:
        damaged[int(where * len(data))] ^= xor
    _load("byte flips", bytes(damaged), model, test, forged=False)


@FUZZ
@given(model_index, st.floats(0, 1, exclude_max=True), st.binary(max_size=64))
def test_truncated_or_extended(which, where, tail):
    label, model, data, test = saved_models()[which]
    _load("truncation", data[:int(where * len(data))] + tail, model, test, forged=False)


@FUZZ
@given(model_index, st.sampled_from(["swap", "drop", "double", "rename", "extra", "deflate"]),
       st.randoms(use_true_random=False))
def test_member_surgery(which, how, rnd):
    label, model, data, test = saved_models()[which]
    contents = members(data)
    names = sorted(contents)
    a, b = rnd.sample(names, 2)
    compression = zipfile.ZIP_STORED
    if how == "swap":
        contents[a], contents[b] = contents[b], contents[a]
    elif how == "drop":
        del contents[a]
    elif how == "double":
        contents = list(contents.items()) + [(a, contents[b])]
    elif how == "rename":
        contents[rnd.choice(["x.npy", a[:-4], a + ".npy", "../" + a, a.upper()])] = \
            contents.pop(a)
    elif how == "extra":
        contents[rnd.choice(["extra.npy", "param:tol.npy", "means_:0.npy"])] = npy(
            np.zeros(rnd.randint(0, 5)))
    else:
        compression = zipfile.ZIP_DEFLATED
        contents[a] = contents[a][:rnd.randint(0, len(contents[a]))]
    _load(f"members ({how})", archive(contents, compression), model, test, forged=False)


@FUZZ
@given(model_index, st.randoms(use_true_random=False), st.sampled_from(DTYPES), shapes,
       st.booleans(), st.booleans())
def test_rewritten_headers(which, rnd, dtype, shape, fortran, forged):
    """A member's header claims another dtype and shape over the same bytes
    (with the manifest and digest rewritten to match, for a forgery)."""
    label, model, data, test = saved_models()[which]
    contents = members(data)
    name = rnd.choice(sorted(contents))
    old = contents[name]
    start = 10 + int.from_bytes(old[8:10], "little")
    contents[name] = header_bytes(dtype, shape, fortran) + old[start:]
    if forged and name != "metadata.npy":
        metadata = metadata_of(contents)
        metadata["arrays"][name[:-4]] = [dtype, list(shape)]
        contents = with_metadata(contents, metadata)
    _load("headers", archive(contents), model, test, forged=False)


@FUZZ
@given(model_index, st.randoms(use_true_random=False),
       st.lists(st.sampled_from(SPECIAL), min_size=1, max_size=4), st.booleans())
def test_forged_values(which, rnd, values, scale):
    """Values put into a float member, the digest made to match: NaN, inf,
    denormal, huge, negative, zero -- or the whole member scaled."""
    label, model, data, test = saved_models()[which]
    contents = members(data)
    keys = [n[:-4] for n in contents if n != "metadata.npy"]
    arrays = {k: np.load(io.BytesIO(contents[k + ".npy"])) for k in keys}
    floats = [k for k, v in arrays.items() if v.dtype.kind in "fiu" and v.size]
    key = rnd.choice(floats)
    array = arrays[key].copy()
    flat = array.reshape(-1)
    for value in values:
        if scale:
            flat *= np.asarray(value).astype(flat.dtype) if array.dtype.kind == "f" else 2
        else:
            where = rnd.randrange(flat.size)
            flat[where] = value if array.dtype.kind == "f" else rnd.choice([0, -1, 10**6])
    _load("forged values", archive(forge(contents, key, array)), model, test, forged=True)


def _paths(node, prefix=()):
    """Every path into a JSON document."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@FUZZ
@given(model_index, st.randoms(use_true_random=False), json_values, st.booleans())
def test_edited_metadata(which, rnd, value, delete):
    """One value of the metadata's JSON replaced (or deleted): version skew,
    parameters, attributes, digests and manifest entries of any type, absurd
    sizes."""
    label, model, data, test = saved_models()[which]
    contents = members(data)
    metadata = metadata_of(contents)
    paths = [p for p in _paths(metadata) if p]
    if rnd.random() < 0.5:  # the digests make most of their edits a mismatch
        paths = [p for p in paths if p[0] != "sha256"]
    path = rnd.choice(paths)
    node = metadata
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    _load("metadata", archive(with_metadata(contents, metadata)), model, test, forged=True)


# --------------------------------------------------------------------------
# Zip bombs, huge claims, too many members: refused before the memory is
# taken.


def _peak_of_load(data):
    tracemalloc.start()
    try:
        with pytest.raises(fastem.ModelFileError) as error:
            load_bytes(data)
        return tracemalloc.get_traced_memory()[1], str(error.value)
    finally:
        tracemalloc.stop()


def test_a_header_claiming_745_gib_is_refused_unread():
    label, model, data, test = saved_models()[0]
    contents = members(data)
    body = contents["means_.npy"]
    start = 10 + int.from_bytes(body[8:10], "little")
    contents["means_.npy"] = header_bytes("<f8", (10**11,)) + body[start:]
    peak, message = _peak_of_load(archive(contents))
    assert "member means_" in message and "holds" in message
    assert peak < 4 << 20
    # the same claim backed by a manifest and a model that declares it
    metadata = metadata_of(contents)
    metadata["arrays"]["means_"] = ["<f8", [10**11]]
    metadata["fitted"]["n_features_in_"] = 10**11
    peak, message = _peak_of_load(archive(with_metadata(contents, metadata)))
    assert "member means_" in message
    assert peak < 4 << 20


def test_a_zip_bomb_is_refused_unexpanded():
    """A deflated member that expands to 1 GiB of zeros under a model of a
    few hundred bytes: refused from its header, nothing expanded."""
    label, model, data, test = saved_models()[0]
    contents = members(data)
    import zlib

    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    stream = b"".join(zeros.compress(chunk) for _ in range(1024)) + zeros.flush()
    header = header_bytes("<f8", (1 << 27,))
    member = zlib.compressobj(9, zlib.DEFLATED, -15)
    full = member.compress(header) + stream
    assert len(full) < 2 << 20
    bomb = _with_member_stream(contents, "means_.npy", header, full, len(header) + (1 << 30))
    peak, message = _peak_of_load(bomb)
    assert "member means_" in message
    assert peak < 4 << 20


def _with_member_stream(contents, name, header, stream, size):
    """An archive whose member ``name`` is the raw deflate ``stream``
    declaring ``size`` bytes (CRC of the header only: never reached)."""
    import zlib

    kept = [(n, v) for n, v in contents.items() if n != name]
    out = io.BytesIO()
    entries = []
    for fname, value in kept:
        offset = out.tell()
        _local(out, fname, zipfile.ZIP_STORED, zlib.crc32(value), len(value), len(value))
        out.write(value)
        entries.append((fname, zipfile.ZIP_STORED, zlib.crc32(value), len(value),
                        len(value), offset))
    offset = out.tell()
    crc = zlib.crc32(header)
    _local(out, name, zipfile.ZIP_DEFLATED, crc, len(stream), size)
    out.write(stream)
    entries.append((name, zipfile.ZIP_DEFLATED, crc, len(stream), size, offset))
    start = out.tell()
    for fname, method, crc, csize, usize, off in entries:
        raw = fname.encode()
        out.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                              csize, usize, len(raw), 0, 0, 0, 0, 0, off))
        out.write(raw)
    end = out.tell()
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                          end - start, start, 0))
    return out.getvalue()


def _local(out, name, method, crc, csize, usize):
    raw = name.encode()
    out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, csize, usize,
                          len(raw), 0))
    out.write(raw)


def test_a_directory_of_100_mib_is_refused_unparsed():
    label, model, data, test = saved_models()[0]
    patched = bytearray(data)
    at = patched.rfind(b"PK\x05\x06")
    struct.pack_into("<L", patched, at + 12, 100 << 20)  # a 100 MiB directory
    with pytest.raises(fastem.ModelFileError, match="entries"):
        load_bytes(bytes(patched))


def test_duplicate_member_names_are_refused():
    label, model, data, test = saved_models()[0]
    contents = list(members(data).items())
    contents.append(("means_.npy", npy(np.zeros((2, 3)))))
    with pytest.raises(fastem.ModelFileError, match="appears twice"):
        load_bytes(archive(contents))
