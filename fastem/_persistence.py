"""Saving and loading fitted models without pickle.

A model file is one ``.npz`` archive (``numpy.savez``; read back with
``allow_pickle=False``, so loading a file never runs code from it):

* ``metadata``: a 0-d string array holding JSON -- ``format``
  ("fastem.GaussianMixture"), ``format_version`` (``FORMAT_VERSION``),
  ``fastem_version``, the constructor ``params`` (the ``*_init`` arrays are
  stored as arrays; a ``RandomState`` is stored as null), the scalar fitted
  attributes (``converged_``, ``n_iter_``, ``lower_bound_``,
  ``lower_bounds_``, ``n_features_in_``), and ``sha256``: a digest of every
  array's dtype, shape and bytes;
* one array per fitted array attribute (``weights_``, ``means_``,
  ``covariances_``, ``precisions_``, ``precisions_cholesky_``, and
  ``feature_names_in_`` when present), and ``param:<name>`` for each
  ``*_init`` array.

Loading checks the digests (a modified or truncated file is refused), the
format and its version, every shape against ``n_components`` and
``n_features_in_``, the dtypes, finiteness, that the weights are a
probability vector, that the Cholesky factors are triangular with a
positive diagonal and that ``precisions_`` and ``covariances_`` agree with
them.  The file is written to a temporary name and renamed, so an
interrupted save never leaves half a file under the name asked for.
"""

import hashlib
import json
import math
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "fastem.GaussianMixture"
FORMAT_VERSION = 1

_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
_SCALARS = ("converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_")
_INIT_ARRAYS = ("weights_init", "means_init", "precisions_init")


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


def save_model(model, file):
    """Write the fitted ``model`` to ``file`` (a path or a binary file)."""
    from sklearn.utils.validation import check_is_fitted

    from . import __version__

    check_is_fitted(model)
    arrays = {name: np.asarray(getattr(model, name)) for name in _ARRAYS}
    if hasattr(model, "feature_names_in_"):
        arrays["feature_names_in_"] = np.asarray(model.feature_names_in_, dtype=str)
    params = {}
    for name, value in model.get_params(deep=False).items():
        if name in _INIT_ARRAYS and value is not None:
            arrays[f"param:{name}"] = np.asarray(value, dtype=np.float64)
            params[name] = "array"
        elif name == "random_state" and not (value is None or isinstance(value, int)):
            params[name] = None  # a RandomState or Generator: not saved
        else:
            params[name] = _json_scalar(value)
    fitted = {name: _json_scalar(getattr(model, name)) for name in _SCALARS}
    fitted["lower_bounds_"] = [_json_scalar(v) for v in model.lower_bounds_]
    metadata = {
        "format": FORMAT,
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
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ModelFileError(
            f"{name!s} is not a readable fastem model file (truncated, or not an .npz "
            f"archive): {error}"
        ) from None


def load(file):
    """Load a model written by ``GaussianMixture.save`` (a path or a binary
    file).  Raises ``fastem.ModelFileError`` (a ``ValueError``) for a file
    that is not such a model, was modified or truncated, or holds invalid
    parameters."""
    from .gaussian_mixture import GaussianMixture

    arrays = _read(file)
    name = getattr(file, "name", file)
    if "metadata" not in arrays or arrays["metadata"].dtype.kind != "U":
        raise ModelFileError(f"{name!s} is an .npz archive but not a fastem model file")
    try:
        metadata = json.loads(str(arrays.pop("metadata")))
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{name!s}: unreadable metadata ({error})") from None
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{name!s} is not a fastem GaussianMixture file")
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
    for key in _INIT_ARRAYS:
        if params.get(key) == "array":
            params[key] = arrays.pop(f"param:{key}")
    model = GaussianMixture()
    try:
        model.set_params(**params)
        model._validate_params()
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{name!s}: invalid parameters ({error})") from None
    for key, value in metadata["fitted"].items():
        if key not in _SCALARS:
            raise ModelFileError(f"{name!s}: unexpected attribute {key!r}")
        setattr(model, key, _from_json_scalar(value))
    model.lower_bounds_ = [_from_json_scalar(v) for v in metadata["fitted"]["lower_bounds_"]]
    for key in _ARRAYS:
        if key not in arrays:
            raise ModelFileError(f"{name!s}: {key} is missing")
        setattr(model, key, arrays[key])
    if "feature_names_in_" in arrays:
        model.feature_names_in_ = arrays["feature_names_in_"].astype(object)
    _check_model(model, name)
    return model


def _check_model(model, name):
    """Shapes, dtypes and values of a loaded model's parameters."""
    K = model.n_components
    d = model.n_features_in_
    if not isinstance(d, int) or d < 1:
        raise ModelFileError(f"{name!s}: n_features_in_ = {d!r} is not a positive integer")
    cov = model.covariance_type
    shapes = {
        "weights_": (K,),
        "means_": (K, d),
        "covariances_": {"full": (K, d, d), "tied": (d, d), "diag": (K, d),
                         "spherical": (K,)}[cov],
    }
    shapes["precisions_"] = shapes["covariances_"]
    shapes["precisions_cholesky_"] = shapes["covariances_"]
    for key, shape in shapes.items():
        value = getattr(model, key)
        if value.shape != shape:
            raise ModelFileError(
                f"{name!s}: {key} has shape {value.shape}, expected {shape} for "
                f"n_components={K}, n_features={d}, covariance_type={cov!r}")
        if value.dtype not in (np.float32, np.float64):
            raise ModelFileError(f"{name!s}: {key} has dtype {value.dtype}, not float32/64")
        if not np.all(np.isfinite(value)):
            raise ModelFileError(f"{name!s}: {key} holds NaN or infinity")
    names = getattr(model, "feature_names_in_", None)
    if names is not None and names.shape != (d,):
        raise ModelFileError(f"{name!s}: feature_names_in_ has shape {names.shape}, "
                             f"expected {(d,)}")
    w = model.weights_.astype(np.float64)
    tol = 1e-5 if model.weights_.dtype == np.float32 else 1e-10
    if np.any(w < 0) or abs(w.sum() - 1.0) > tol:
        raise ModelFileError(f"{name!s}: weights_ is not a probability vector")
    chol = model.precisions_cholesky_.astype(np.float64)
    rtol = 1e-4 if chol.dtype == np.float32 or model.precisions_.dtype == np.float32 else 1e-8
    if cov in ("full", "tied"):
        stack = chol if cov == "full" else chol[None]
        diag = np.diagonal(stack, axis1=1, axis2=2)
        if np.any(np.tril(stack, -1) != 0) or np.any(diag <= 0):
            raise ModelFileError(f"{name!s}: precisions_cholesky_ is not upper-triangular "
                                 "with a positive diagonal")
        precisions = np.matmul(stack, np.swapaxes(stack, 1, 2))
        stored = model.precisions_.astype(np.float64).reshape(precisions.shape)
        covariances = model.covariances_.astype(np.float64).reshape(precisions.shape)
        identity = np.matmul(covariances, precisions)
        eye = np.broadcast_to(np.eye(d), identity.shape)
        scale = np.abs(precisions).max(axis=(1, 2), keepdims=True)
        if not np.allclose(stored, precisions, rtol=rtol, atol=rtol * scale.max()):
            raise ModelFileError(f"{name!s}: precisions_ disagrees with precisions_cholesky_")
        if not np.allclose(identity, eye, atol=1e3 * rtol * max(1.0, d)):
            raise ModelFileError(f"{name!s}: covariances_ is not the inverse of precisions_")
    else:
        if np.any(chol <= 0):
            raise ModelFileError(f"{name!s}: precisions_cholesky_ is not positive")
        if not np.allclose(model.precisions_.astype(np.float64), chol**2, rtol=rtol):
            raise ModelFileError(f"{name!s}: precisions_ disagrees with precisions_cholesky_")
        if not np.allclose(model.covariances_.astype(np.float64) * chol**2, 1.0,
                           rtol=1e3 * rtol):
            raise ModelFileError(f"{name!s}: covariances_ is not the inverse of precisions_")
