"""Peak memory of ``fastem.load`` on honest and hostile files.

    python benchmarks/load_memory.py [--workdir DIR]

Each case runs ``fastem.load`` in a fresh process (after one load of a tiny
model: the imports) and reports the rise of its peak RSS (VmHWM, reset
through /proc/self/clear_refs; Linux) over the RSS before, next to the model's declared size (the bytes of its
arrays).  Cases: an honest full-covariance model of 50 components in 200
dimensions (48 MB of arrays); its file with ``means_``'s header claiming
shape (10**11,) (745 GiB); the same claim backed by a rewritten manifest and
``n_features_in_``; a deflated member declaring 1 GiB (a zip bomb).
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
import zlib

import numpy as np

CHILD = r"""
import sys, time
import fastem


def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))


fastem.load(sys.argv[2])  # the imports load makes on first use
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from here
base = status("VmRSS")
t = time.perf_counter()
try:
    fastem.load(sys.argv[1])
    outcome = "loaded"
except fastem.ModelFileError as error:
    outcome = "ModelFileError: " + str(error).split(": ", 1)[1][:90]
seconds = time.perf_counter() - t
print(f"{(status('VmHWM') - base) / 1024:.1f}\t{seconds:.3f}\t{outcome}")
"""


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _header(dtype, shape):
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _write(path, contents):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in contents.items():
            z.writestr(name, data)


def _metadata(contents):
    return json.loads(str(np.load(io.BytesIO(contents["metadata.npy"]))))


def make_cases(folder):
    import fastem

    rng = np.random.default_rng(0)
    K, d = 50, 200
    X = rng.normal(size=(5000, d))
    fastem.GaussianMixture(2, random_state=0).fit(X[:100, :2]).save(
        os.path.join(folder, "warm.npz"))
    model = fastem.GaussianMixture(K, max_iter=1, random_state=0).fit(X)
    honest = os.path.join(folder, "honest.npz")
    model.save(honest)
    declared = sum(a.nbytes for a in (model.weights_, model.means_, model.covariances_,
                                      model.precisions_, model.precisions_cholesky_))
    cases = [("honest 50 x 200 full", honest, declared)]

    contents = _members(honest)
    body = contents["means_.npy"]
    start = 10 + int.from_bytes(body[8:10], "little")
    claim = dict(contents)
    claim["means_.npy"] = _header("<f8", (10**11,)) + body[start:]
    path = os.path.join(folder, "claims-745GiB.npz")
    _write(path, claim)
    cases.append(("header claims 745 GiB", path, declared))

    metadata = _metadata(claim)
    metadata["arrays"]["means_"] = ["<f8", [10**11]]
    metadata["fitted"]["n_features_in_"] = 10**11
    claim["metadata.npy"] = _npy(np.array(json.dumps(metadata)))
    path = os.path.join(folder, "claims-745GiB-manifest.npz")
    _write(path, claim)
    cases.append(("745 GiB, manifest agrees", path, declared))

    # A zip bomb: a deflated means_ that expands to 1 GiB of zeros.
    header = _header("<f8", (1 << 27,))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = packer.compress(header) + b"".join(packer.compress(bytes(1 << 20))
                                                for _ in range(1024)) + packer.flush()
    path = os.path.join(folder, "bomb.npz")
    with zipfile.ZipFile(path, "w") as z:
        for name, data in contents.items():
            if name != "means_.npy":
                z.writestr(name, data)
    _append_raw_member(path, "means_.npy", stream, len(header) + (1 << 30),
                       zlib.crc32(header + bytes(1 << 30)))
    cases.append((f"zip bomb ({os.path.getsize(path) >> 20} MiB file, 1 GiB inside)", path,
                  declared))
    return cases


def _append_raw_member(path, name, stream, size, crc):
    """Add a deflated member from a raw ``stream`` (zipfile would compress
    the whole 1 GiB in memory): written stored, then relabelled."""
    with zipfile.ZipFile(path) as z:
        kept = [(i, z.read(i)) for i in z.infolist() if i.filename != name]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in kept:
            z.writestr(info, data)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_STORED
        z.writestr(info, stream)
    data = bytearray(open(path, "rb").read())
    _relabel(data, name.encode(), size, crc)
    with open(path, "wb") as f:
        f.write(data)


def _relabel(data, raw_name, size, crc):
    """Mark member ``raw_name`` deflated, of ``size`` bytes and ``crc``, in
    its local header and its directory entry."""
    import struct

    # (signature, where the name's length is, where the name starts, where
    # the method is; the CRC and size follow the method at +6 and +14)
    for sig, length_at, name_at, method_at in ((b"PK\x03\x04", 26, 30, 8),
                                               (b"PK\x01\x02", 28, 46, 10)):
        at = data.find(sig)
        while at >= 0:
            n = struct.unpack_from("<H", data, at + length_at)[0]
            if bytes(data[at + name_at:at + name_at + n]) == raw_name:
                struct.pack_into("<H", data, at + method_at, zipfile.ZIP_DEFLATED)
                struct.pack_into("<L", data, at + method_at + 6, crc)
                struct.pack_into("<L", data, at + method_at + 14, size)
            at = data.find(sig, at + 4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    folder = args.workdir or tempfile.mkdtemp(prefix="fastem-load-")
    os.makedirs(folder, exist_ok=True)
    warnings.simplefilter("ignore")
    print("case\tfile MiB\tdeclared MiB\tload's peak RSS MiB\tseconds\toutcome")
    for label, path, declared in make_cases(folder):
        warm = os.path.join(folder, "warm.npz")
        result = subprocess.run([sys.executable, "-c", CHILD, path, warm], capture_output=True,
                                text=True, check=True).stdout.strip()
        peak, seconds, outcome = result.split("\t")
        print(f"{label}\t{os.path.getsize(path) / 2**20:.2f}\t{declared / 2**20:.1f}\t{peak}"
              f"\t{seconds}\t{outcome}")


if __name__ == "__main__":
    main()
