"""Saving and loading fitted models without pickle.

A model file is one ``.npz`` archive (``numpy.savez``; read back with
``allow_pickle=False``, so loading a file never runs code from it):

* ``metadata``: a 0-d string array holding JSON -- ``format`` (the model's
  name, "fastem.GaussianMixture", "fastem.BayesianGaussianMixture", ...: the
  key of the registry ``load`` builds the estimator from), ``format_version``
  (``FORMAT_VERSION``), ``fastem_version``, the constructor ``params``
  (array-valued parameters are stored as arrays; a ``RandomState`` is stored
  as null), the scalar fitted attributes (``converged_``, ``n_iter_``,
  ``lower_bound_``, ``lower_bounds_``, ``n_features_in_`` and the family's
  own), and ``sha256``: a digest of every array's dtype, shape and bytes;
* one array per fitted array attribute (the family's, the chain's
  ``m_step_bounds_`` and ``kl_divergences_``, and ``feature_names_in_`` when
  present; a tuple or list of arrays as ``name:0``, ``name:1``, ...), and
  ``param:<name>`` for each array-valued parameter.

Loading checks the digests (a modified or truncated file is refused), the
format and its version, then the generic attributes, then asks the model's
family to check its own (shapes against ``n_components`` and
``n_features_in_``, dtypes, finiteness, probability vectors, factorisations
that agree with the matrices they factor).  The file is written to a
temporary name and renamed, so an interrupted save never leaves half a file
under the name asked for.
"""

import hashlib
import json
import math
import os
import tempfile
import zipfile

import numpy as np

FORMAT_VERSION = 1

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
    h.update(np.ascontiguousarray(array).tobytes())
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
    arrays = {}
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
    }
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    if hasattr(file, "write"):
        np.savez(file, **arrays)
        return
    path = os.fspath(file)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastem-", suffix=".npz.part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(file):
    name = getattr(file, "name", file)
    try:
        archive = np.load(file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with archive:
            return {key: archive[key] for key in archive.files}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise  # the path, not the file's content: Python's own errors
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ModelFileError(
            f"{name!s} is not a readable fastem model file (truncated, or not an .npz "
            f"archive): {error}"
        ) from None


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
    ``PermissionError``) for a path that names no readable file."""
    arrays = _read(file)
    name = getattr(file, "name", file)
    if "metadata" not in arrays or arrays["metadata"].dtype.kind != "U":
        raise ModelFileError(f"{name!s} is an .npz archive but not a fastem model file")
    try:
        metadata = json.loads(str(arrays.pop("metadata")))
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{name!s}: unreadable metadata ({error})") from None
    cls = _model_class(metadata.get("format"))
    if cls is None:
        raise ModelFileError(f"{name!s} is not a fastem model file "
                             f"(format {metadata.get('format')!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name!s} has format version {version!r}, written by fastem "
            f"{metadata.get('fastem_version')}; this fastem reads versions up to "
            f"{FORMAT_VERSION}: upgrade fastem"
        )
    digests = metadata.get("sha256", {})
    if set(digests) != set(arrays) or any(_digest(arrays[k]) != v for k, v in digests.items()):
        raise ModelFileError(f"{name!s} has been modified or corrupted (checksum mismatch)")

    params = dict(metadata["params"])
    for key, value in list(params.items()):
        if value == "array":
            if f"param:{key}" not in arrays:
                raise ModelFileError(f"{name!s}: parameter {key} is missing")
            params[key] = arrays.pop(f"param:{key}")
    model = cls()
    try:
        model.set_params(**params)
        model._validate_params()
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{name!s}: invalid parameters ({error})") from None
    family = model._family()
    scalars = _SCALARS + family.scalar_attributes
    for key, value in metadata["fitted"].items():
        if key not in scalars + _OPTIONAL_SCALARS:
            raise ModelFileError(f"{name!s}: unexpected attribute {key!r}")
        setattr(model, key, _from_json_scalar(value))
    for key in scalars:
        if key not in metadata["fitted"]:
            raise ModelFileError(f"{name!s}: {key} is missing")
    model.lower_bounds_ = [_from_json_scalar(v) for v in metadata["fitted"]["lower_bounds_"]]
    for key in family.array_attributes + _CHAIN:
        parts = sorted((k for k in arrays if k.startswith(key + ":")),
                       key=lambda k: int(k.rsplit(":", 1)[1]))
        if key in arrays:
            value = arrays[key]
            setattr(model, key, value[()] if value.ndim == 0 else value)
        elif parts:
            kind = list if key in getattr(family, "list_attributes", ()) else tuple
            setattr(model, key, kind(arrays[k] for k in parts))
        elif key not in _CHAIN:
            raise ModelFileError(f"{name!s}: {key} is missing")
    if "feature_names_in_" in arrays:
        model.feature_names_in_ = arrays["feature_names_in_"].astype(object)
    _check_model(model, family, name)
    return model


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
