"""Saving and loading fitted models without pickle.

A model file is one ``.npz`` archive (``numpy.savez``):

* ``metadata``: a 0-d string array holding JSON -- ``format`` (the model's
  name, "fastem.GaussianMixture", "fastem.BayesianGaussianMixture", ...: the
  key of the registry ``load`` builds the estimator from), ``format_version``
  (``FORMAT_VERSION``), ``fastem_version``, the constructor ``params``
  (array-valued parameters are stored as arrays; a ``RandomState`` is stored
  as null), the scalar fitted attributes (``converged_``, ``n_iter_``,
  ``lower_bound_``, ``lower_bounds_``, ``n_features_in_`` and the family's
  own), ``arrays``: every array's dtype and shape (the manifest, from format
  2), and ``sha256``: a digest of every array's dtype, shape and bytes;
* one array per fitted array attribute (the family's, the chain's
  ``m_step_bounds_`` and ``kl_divergences_``, and ``feature_names_in_`` when
  present; a tuple or list of arrays as ``name:0``, ``name:1``, ...), and
  ``param:<name>`` for each array-valued parameter.

Loading treats the file as hostile (the README's "What fastem.load
guarantees"): ``npz.Archive`` bounds the zip's directory and reads each
member's header alone; the metadata gives the model's class, parameters and
scalars (checked); every header is then checked against the layout the
family derives from them (``Family.saved_layout``) and against the manifest,
before any array is read, so the memory taken is bounded by the declared
model; then the digests, then the family's checks of the values (shapes,
dtypes, finiteness, probability vectors, factorisations that agree with the
matrices they factor, scales that are not denormal, means that do not
overflow).  The file is written to a temporary name and renamed, so an
interrupted save never leaves half a file under the name asked for.
"""

import errno
import hashlib
import json
import math
import os
import tempfile

import numpy as np

from .npz import Archive

#: 2: the metadata's ``arrays`` lists every member's dtype and shape (files
#: of version 1, without it, are read: their two chain arrays are then sized
#: by their own headers, each checked against the bytes the member holds).
FORMAT_VERSION = 2
#: The metadata member's largest size (its JSON holds one number per
#: iteration: ``lower_bounds_``).
MAX_METADATA_BYTES = 64 << 20
#: The longest feature name a model file holds.
MAX_NAME_CHARACTERS = 4096

#: Fitted attributes every model has (the family adds its own).
_SCALARS = ("converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_")
#: Scalar fitted attributes only some fits have (``missing="marginalize"``).
_OPTIONAL_SCALARS = ("n_rows_all_missing_",)
#: The chain of an exact-EM fit (absent from files written before it).
_CHAIN = ("m_step_bounds_", "kl_divergences_")


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not a fastem model, modified,
    truncated, from a newer fastem, or holding an invalid model."""


def _digest(array):
    h = hashlib.sha256()
    h.update(f"{array.dtype.str}|{array.shape}|".encode())
    array = np.ascontiguousarray(array)
    h.update(array.reshape(-1).view(np.uint8) if array.size else b"")  # no copy
    return h.hexdigest()


def _json_scalar(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else repr(value)  # "-inf": JSON has none
    return value


def _from_json_scalar(value):
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def _format(model):
    return f"fastem.{type(model).__name__}"


def _array_param(value):
    return isinstance(value, (np.ndarray, list, tuple))


def save_model(model, file):
    """Write the fitted ``model`` to ``file`` (a path or a binary file)."""
    from sklearn.utils.validation import check_is_fitted

    from .. import __version__

    check_is_fitted(model)
    family = model._family()
    # a family may say which arrays a file holds (``saved_arrays``; a hidden
    # Markov model's), else they are its fitted array attributes
    arrays = dict(family.saved_arrays(model)) if hasattr(family, "saved_arrays") else {}
    for name in family.array_attributes + tuple(n for n in _CHAIN if hasattr(model, n)):
        value = getattr(model, name)
        if isinstance(value, (tuple, list)):
            for i, part in enumerate(value):
                arrays[f"{name}:{i}"] = np.asarray(part)
        else:
            arrays[name] = np.asarray(value)
    if hasattr(model, "feature_names_in_"):
        arrays["feature_names_in_"] = np.asarray(model.feature_names_in_, dtype=str)
    params = {}
    for name, value in model.get_params(deep=False).items():
        if _array_param(value):
            arrays[f"param:{name}"] = np.asarray(value, dtype=np.float64)
            params[name] = "array"
        elif name == "random_state" and not (value is None or isinstance(value, int)):
            params[name] = None  # a RandomState or Generator: not saved
        else:
            params[name] = _json_scalar(value)
    fitted = {name: _json_scalar(getattr(model, name))
              for name in _SCALARS + family.scalar_attributes}
    fitted.update({name: _json_scalar(getattr(model, name)) for name in _OPTIONAL_SCALARS
                   if hasattr(model, name)})
    fitted["lower_bounds_"] = [_json_scalar(v) for v in model.lower_bounds_]
    metadata = {
        "format": _format(model),
        "format_version": FORMAT_VERSION,
        "fastem_version": __version__,
        "params": params,
        "fitted": fitted,
        "sha256": {name: _digest(a) for name, a in arrays.items()},
        "arrays": {name: [a.dtype.str, list(a.shape)] for name, a in arrays.items()},
    }
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    if hasattr(file, "write"):
        np.savez(file, **arrays)
        return
    path = os.fspath(file)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # Python's error, for the path asked for
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    fd, tmp = tempfile.mkstemp(prefix=".fastem-", suffix=".npz.part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _model_class(fmt):
    """The estimator class a file's ``format`` names: one of fastem's
    models (``fastem.MODELS``, the registry), or None."""
    import fastem

    if not isinstance(fmt, str) or not fmt.startswith("fastem."):
        return None
    name = fmt[len("fastem."):]
    return getattr(fastem, name) if name in fastem.MODELS else None


def load(file):
    """Load a model written by a fastem model's ``save`` (a path or a binary
    file).  Raises ``fastem.ModelFileError`` (a ``ValueError``) for a file
    that is not such a model, was modified or truncated, or holds invalid
    parameters; ``FileNotFoundError`` (``IsADirectoryError``,
    ``PermissionError``) for a path that names no readable file.

    Every member's header is checked against the model the metadata
    declares before any array is read (see the module docstring), so the
    memory ``load`` takes is bounded by that model's size."""
    name = getattr(file, "name", file)

    def unreadable(reason):
        raise ModelFileError(f"{name!s} is not a readable fastem model file (truncated, or "
                             f"not an .npz archive): {reason}")

    def fail(reason):
        raise ModelFileError(f"{name!s}: {reason}")

    with Archive(file, fail, unreadable) as archive:
        metadata = _read_metadata(archive, name, fail)
        cls = _model_class(metadata.get("format"))
        if cls is None:
            raise ModelFileError(f"{name!s} is not a fastem model file "
                                 f"(format {metadata.get('format')!r})")
        _check_version(metadata, name)
        model, family = _model_from_metadata(cls, metadata, archive, fail)
        arrays = _read_arrays(model, family, metadata, archive, fail)
    for key, value in arrays.items():
        if key.startswith("param:"):
            setattr(model, key[len("param:"):], value)
    if hasattr(family, "restore"):
        family.restore(model, {key: arrays[key] for key in family.saved_layout(
            model, lambda key, shape, dtypes: arrays[key])})
    for key in family.array_attributes + _CHAIN:
        parts = sorted((k for k in arrays if k.startswith(key + ":")),
                       key=lambda k: int(k.rsplit(":", 1)[1]))
        if key in arrays:
            value = arrays[key]
            setattr(model, key, value[()] if value.ndim == 0 else value)
        elif parts:
            kind = list if key in getattr(family, "list_attributes", ()) else tuple
            setattr(model, key, kind(arrays[k] for k in parts))
    if "feature_names_in_" in arrays:
        model.feature_names_in_ = arrays["feature_names_in_"].astype(object)
    _check_model(model, family, name)
    return model


def _read_metadata(archive, name, fail):
    """The metadata member's JSON (at most ``MAX_METADATA_BYTES``)."""
    if "metadata" not in archive.infos:
        raise ModelFileError(f"{name!s} is an .npz archive but not a fastem model file")
    header = archive.header("metadata")
    if header.dtype.kind != "U" or header.shape != ():
        raise ModelFileError(f"{name!s} is an .npz archive but not a fastem model file "
                             f"(metadata of dtype {header.dtype}, shape {header.shape})")
    if header.nbytes > MAX_METADATA_BYTES:
        fail(f"member metadata: {header.nbytes} bytes (at most {MAX_METADATA_BYTES})")
    try:
        metadata = json.loads(str(archive.read("metadata", header)[()]))
    except (ValueError, RecursionError) as error:  # JSONDecodeError, digits limit
        fail(f"unreadable metadata ({str(error)[:200]})")
    if not isinstance(metadata, dict):
        fail("unreadable metadata (not a JSON object)")
    for key, kind in (("params", dict), ("fitted", dict), ("sha256", dict)):
        if not isinstance(metadata.get(key), kind):
            fail(f"metadata: {key} is missing or not a JSON object")
    return metadata


def _check_version(metadata, name):
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1 \
            or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name!s} has format version {version!r}, written by fastem "
            f"{str(metadata.get('fastem_version'))[:40]}; this fastem reads versions 1 to "
            f"{FORMAT_VERSION}" + (": upgrade fastem" if isinstance(version, int)
                                   and not isinstance(version, bool) and version > 1 else "")
        )


def _number(value):
    """A JSON number (or fastem's "inf"/"-inf"/"nan" strings) as a float,
    else None."""
    value = _from_json_scalar(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _model_from_metadata(cls, metadata, archive, fail):
    """The estimator with the file's parameters and scalar attributes set."""
    params = dict(metadata["params"])
    arrays = {}
    for key, value in params.items():
        if value == "array":
            if f"param:{key}" not in archive.infos:
                fail(f"parameter {key} is missing")
            arrays[key] = None  # read with the other arrays
        elif isinstance(value, float) and not math.isfinite(value) or \
                isinstance(value, str) and value in ("inf", "-inf", "nan"):
            fail(f"parameter {key} = {value!r} is not finite")
        elif isinstance(value, (dict, list)):
            fail(f"parameter {key} is a JSON {type(value).__name__}, not a value")
    model = cls()
    try:
        model.set_params(**{k: (np.zeros(1) if k in arrays else v) for k, v in params.items()})
        model._validate_params()
    except (ValueError, TypeError) as error:
        fail(f"invalid parameters ({str(error).splitlines()[0][:300]})")
    family = model._family()
    fitted = metadata["fitted"]
    scalars = _SCALARS + family.scalar_attributes
    for key, value in fitted.items():
        if key not in scalars + _OPTIONAL_SCALARS:
            fail(f"unexpected attribute {key!r}")
    for key in scalars:
        if key not in fitted:
            fail(f"{key} is missing")
    for key in _OPTIONAL_SCALARS + ("n_features_in_", "n_iter_"):
        value = fitted.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            fail(f"{key} = {str(value)[:40]} is not a non-negative integer")
    if fitted["n_features_in_"] < 1:
        fail("n_features_in_ = 0 is not a positive integer")
    if not isinstance(fitted["converged_"], bool):
        fail(f"converged_ = {str(fitted['converged_'])[:40]} is not true or false")
    bounds = fitted["lower_bounds_"]
    if not isinstance(bounds, list) or len(bounds) > fitted["n_iter_"]:
        fail("lower_bounds_ is not a list of at most n_iter_ numbers")
    for key, values in (("lower_bound_", [fitted["lower_bound_"]]), ("lower_bounds_", bounds)):
        for value in values:
            number = _number(value)
            if number is None or math.isnan(number) or number == math.inf:
                fail(f"{key} holds {str(value)[:40]}, not a number or -inf")
    for key in family.scalar_attributes:
        number = _number(fitted[key])
        if number is None or not math.isfinite(number):
            fail(f"{key} = {str(fitted[key])[:40]} is not a finite number")
    for key in scalars + tuple(k for k in _OPTIONAL_SCALARS if k in fitted):
        setattr(model, key, _from_json_scalar(fitted[key]))
    model.lower_bounds_ = [_number(v) for v in bounds]
    model.lower_bound_ = _number(fitted["lower_bound_"])
    return model, family


def _read_arrays(model, family, metadata, archive, fail):
    """Every member but the metadata: each header checked against the model
    the metadata declares (the family's layout, the manifest ``arrays``),
    then, all checked, the data, then the digests."""
    manifest = metadata.get("arrays")
    if manifest is None and metadata["format_version"] >= 2:
        fail("metadata: arrays (the members' dtypes and shapes) is missing")
    if manifest is not None and not isinstance(manifest, dict):
        fail("metadata: arrays is not a JSON object")
    keys = set(archive.keys) - {"metadata"}
    digests = metadata["sha256"]
    if set(digests) != keys or (manifest is not None and set(manifest) != keys):
        extra = sorted(keys - set(digests))
        missing = sorted(set(digests) - keys)
        fail("has been modified or corrupted (checksum mismatch: "
             + (f"unexpected member {extra[0]!r}" if extra else
                f"member {missing[0]!r} missing" if missing else "manifest") + ")")
    headers = {}

    def check(key, shape, dtypes):
        if key not in archive.infos:
            fail(f"member {key} is missing")
        header = archive.header(key)
        if manifest is not None:
            declared = manifest[key]
            if not (isinstance(declared, list) and len(declared) == 2
                    and declared[0] == header.dtype.str
                    and declared[1] == list(header.shape)):
                fail(f"member {key}: header (dtype {header.dtype.str}, shape "
                     f"{header.shape}) disagrees with the metadata")
        if header.dtype not in dtypes or (shape is not None and header.shape != shape):
            fail(f"member {key}: dtype {header.dtype}, shape {header.shape}; expected "
                 f"{'/'.join(str(t) for t in dtypes)}"
                 + (f" of shape {shape}" if shape is not None else "")
                 + f" for n_components={model.n_components}, "
                 f"n_features={model.n_features_in_}")
        headers[key] = header
        return header

    read = {}

    def read_small(key, shape, dtypes):
        read[key] = archive.read(key, check(key, shape, dtypes))
        return read[key]

    try:
        layout = family.saved_layout(model, read_small)
    except ValueError as error:
        fail(str(error))
    for key in sorted(set(layout) - keys):
        fail(f"member {key} is missing")
    size = 0
    for key, (shape, dtypes) in layout.items():
        if key not in headers:
            check(key, shape, dtypes)
        size += headers[key].nbytes
    f64 = (np.dtype(np.float64),)
    chain = [k for k in _CHAIN if k in keys]
    if chain and len(chain) != len(_CHAIN):
        fail(f"member {chain[0]} without {(set(_CHAIN) - set(chain)).pop()}")
    if chain:
        steps = check("m_step_bounds_", None, f64).shape
        gains = check("kl_divergences_", None, f64).shape
        if len(steps) != 1 or gains != (max(steps[0] - 1, 0),):
            fail(f"members m_step_bounds_ and kl_divergences_ of shapes {steps} and {gains} "
                 "(n and n - 1)")
    d = model.n_features_in_
    for key in sorted(keys - set(layout) - set(chain)):
        if key == "feature_names_in_":
            header = archive.header(key)
            if header.dtype.kind != "U" or header.shape != (d,) \
                    or header.dtype.itemsize > 4 * MAX_NAME_CHARACTERS:
                fail(f"member feature_names_in_: dtype {header.dtype}, shape {header.shape}; "
                     f"expected {d} names of at most {MAX_NAME_CHARACTERS} characters")
            check(key, (d,), (header.dtype,))
        elif key.startswith("param:") and key[len("param:"):] in metadata["params"] \
                and metadata["params"][key[len("param:"):]] == "array":
            header = check(key, None, f64)
            # An initial value is never larger than the fitted parameters.
            if len(header.shape) > 4 or header.nbytes > max(size, 8):
                fail(f"member {key}: shape {header.shape}, larger than the model's "
                     "parameters")
        else:
            fail(f"unexpected member {key!r}")
    arrays = {}
    for key in sorted(keys):
        arrays[key] = read[key] if key in read else archive.read(key, headers[key])
        if _digest(arrays[key]) != digests[key]:
            fail(f"has been modified or corrupted (checksum mismatch in member {key})")
    for key, value in arrays.items():
        if value.dtype.kind == "f" and key not in _CHAIN and not np.all(np.isfinite(value)):
            fail(f"member {key} holds NaN or infinity")
    return arrays


def _check_model(model, family, name):
    """The generic fitted attributes, then the family's own."""
    d = model.n_features_in_
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise ModelFileError(f"{name!s}: n_features_in_ = {d!r} is not a positive integer")
    empty = getattr(model, "n_rows_all_missing_", 0)
    if not isinstance(empty, int) or isinstance(empty, bool) or empty < 0:
        raise ModelFileError(f"{name!s}: n_rows_all_missing_ = {empty!r} is not a "
                             "non-negative integer")
    names = getattr(model, "feature_names_in_", None)
    if names is not None and names.shape != (d,):
        raise ModelFileError(f"{name!s}: feature_names_in_ has shape {names.shape}, "
                             f"expected {(d,)}")
    family.check_loaded(model, name, ModelFileError)
