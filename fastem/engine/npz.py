"""Reading an ``.npz`` archive that may have been made to do harm.

``numpy.load`` trusts an archive's headers: a member whose ``.npy`` header
claims shape (10**11,) makes it allocate 745 GiB before any check, a
compressed member can expand without limit, and a zip's central directory is
parsed whole however many entries it lists.  ``Archive`` reads the same files
(``numpy.savez`` and ``numpy.savez_compressed``) in three steps, each bounded
before it runs:

1. the end-of-central-directory record is parsed first: an archive of more
   than ``MAX_MEMBERS`` entries or a central directory over
   ``MAX_DIRECTORY_BYTES`` is refused before ``zipfile`` parses it; member
   names must be unique, end in ``.npy`` and be stored or deflated;
2. ``header(key)`` reads at most ``MAX_HEADER_BYTES`` of one member: its
   ``.npy`` version, dtype, shape and order (plain numeric, boolean or
   unicode dtypes only), and checks that the member holds exactly the bytes
   the header declares;
3. ``read(key, header)`` reads that many bytes into one buffer, by pieces,
   with the zip's CRC checked at the end.

So nothing is allocated beyond the sizes the caller accepted from the headers
(the model loader checks them against the model the metadata declares), and
every failure is an ``error(message)`` naming the member and the reason.
"""

import io
import math
import os
import struct
import zipfile

import numpy as np

#: More entries than any model file has (a categorical model stores one
#: table per feature).
MAX_MEMBERS = 65535
MAX_DIRECTORY_BYTES = 16 << 20
#: numpy's own limit on a header it parses (``max_header_size``).
MAX_HEADER_BYTES = 10000
_PIECE = 1 << 20

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


class Header:
    """One member's ``.npy`` header: ``dtype``, ``shape``, ``fortran``,
    ``nbytes`` (the data's size) and ``offset`` (where the data start)."""

    __slots__ = ("dtype", "shape", "fortran", "nbytes", "offset")

    def __init__(self, dtype, shape, fortran, offset):
        self.dtype, self.shape, self.fortran, self.offset = dtype, shape, fortran, offset
        self.nbytes = math.prod(shape) * dtype.itemsize


def _directory_size(fp, size, fail):
    """(entries, bytes) of the central directory, from the end records."""
    tail = min(size, _EOCD.size + 65535)
    fp.seek(size - tail)
    data = fp.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < _EOCD.size:
        fail("not a zip archive")
    _, _, _, _, entries, cd_bytes, _, _ = _EOCD.unpack_from(data, at)
    if entries == 0xFFFF or cd_bytes == 0xFFFFFFFF:  # zip64
        where = size - tail + at - _EOCD64_LOCATOR.size
        if where < 0:
            fail("a zip64 archive without its end record")
        fp.seek(where)
        sig, _, offset, _ = _EOCD64_LOCATOR.unpack(fp.read(_EOCD64_LOCATOR.size))
        if sig != b"PK\x06\x07" or offset > size - _EOCD64.size:
            fail("a zip64 archive without its end record")
        fp.seek(offset)
        record = fp.read(_EOCD64.size)
        if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
            fail("a zip64 archive without its end record")
        fields = _EOCD64.unpack(record)
        entries, cd_bytes = fields[6], fields[7]
    return entries, cd_bytes


class Archive:
    """An ``.npz`` archive opened for bounded reading (see the module
    docstring).  ``file``: a path or a seekable binary file; ``fail(message)``
    raises the caller's error (``fail_open`` that for a file that is no zip
    archive at all).  ``keys``: the member names less ``.npy``."""

    def __init__(self, file, fail, fail_open=None):
        self._fail = fail
        self._fail_open = fail_open or fail
        self._own = not hasattr(file, "read")
        fp = open(os.fspath(file), "rb") if self._own else file
        self._fp = fp
        try:
            self._open(fp)
        except BaseException:
            self.close()
            raise

    def _open(self, fp):
        fail = self._fail_open
        try:
            fp.seek(0, io.SEEK_END)
            size = fp.tell()
        except (OSError, ValueError, AttributeError):
            fail("not a seekable file")
        entries, cd_bytes = _directory_size(fp, size, fail)
        if entries > MAX_MEMBERS or cd_bytes > MAX_DIRECTORY_BYTES:
            fail(f"a zip directory of {entries} entries and {cd_bytes} bytes (a model file "
                 f"has at most {MAX_MEMBERS} entries in {MAX_DIRECTORY_BYTES >> 20} MiB)")
        fp.seek(0)
        try:
            self._zip = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
                struct.error, NotImplementedError) as error:
            fail(f"not a readable zip archive ({error})")
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            fail(f"{len(infos)} zip entries (at most {MAX_MEMBERS})")
        self.infos = {}
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                fail(f"member {name!r} is not an .npy array")
            key = name[:-4]
            if key in self.infos:
                fail(f"member {name!r} appears twice")
            if info.compress_type not in _METHODS:
                fail(f"member {name!r} is compressed by method {info.compress_type} "
                     "(stored or deflated only)")
            if info.flag_bits & 0x1:
                fail(f"member {name!r} is encrypted")
            self.infos[key] = info

    @property
    def keys(self):
        return tuple(self.infos)

    def close(self):
        zf = getattr(self, "_zip", None)
        if zf is not None:
            zf.close()
        if self._own:
            self._fp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _member(self, key):
        try:
            return self._zip.open(self.infos[key])
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
                NotImplementedError, RuntimeError) as error:
            self._fail(f"member {key}: unreadable ({error})")

    def header(self, key):
        """The checked ``Header`` of member ``key``; no data are read."""
        fail = self._fail
        info = self.infos[key]
        with self._member(key) as f:
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                        f, max_header_size=MAX_HEADER_BYTES)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                        f, max_header_size=MAX_HEADER_BYTES)
                else:
                    raise ValueError(f"unknown .npy version {version}")
                offset = f.tell()
            except Exception as error:  # noqa: BLE001 -- numpy's literal parser raises
                # anything (SyntaxError, tokenize.TokenError, ValueError, ...) on bad text
                fail(f"member {key}: unreadable .npy header ({_first_line(error)})")
        if dtype.hasobject or dtype.kind not in "biufU" or dtype.fields is not None \
                or dtype.subdtype is not None:
            fail(f"member {key}: dtype {dtype} (plain numbers or text only; pickled "
                 "objects are refused: allow_pickle=False)")
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            fail(f"member {key}: shape {shape!r} is not a shape")
        header = Header(dtype, tuple(shape), bool(fortran), offset)
        held = info.file_size - offset
        if held != header.nbytes:
            fail(f"member {key}: its header declares dtype {dtype.str}, shape {header.shape} "
                 f"({header.nbytes} bytes), the member holds {max(held, 0)}")
        return header

    def read(self, key, header):
        """Member ``key``'s array, of the checked ``header``."""
        buf = bytearray(header.nbytes)
        view = memoryview(buf)
        with self._member(key) as f:
            try:
                f.seek(header.offset) if f.seekable() else f.read(header.offset)
                at = 0
                while at < header.nbytes:
                    n = f.readinto(view[at:at + _PIECE])
                    if not n:
                        break
                    at += n
                extra = f.read(1)  # reaches the end: the CRC is checked
            except (zipfile.BadZipFile, OSError, ValueError, EOFError,
                    struct.error) as error:
                self._fail(f"member {key}: unreadable data ({_first_line(error)})")
        if at != header.nbytes or extra:
            self._fail(f"member {key}: holds {at} bytes, its header declares {header.nbytes}")
        array = np.frombuffer(buf, dtype=header.dtype)
        order = "F" if header.fortran else "C"
        return array.reshape(header.shape, order=order)


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
