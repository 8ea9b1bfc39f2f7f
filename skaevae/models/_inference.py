"""Batched inference: a fitted module applied to named arrays, one batch at a time."""

from abc import abstractmethod

import numpy as np
import torch
from sklearn import get_config
from sklearn.utils.validation import (
    assert_all_finite,
    check_array,
    check_is_fitted,
    validate_data,
)

from ..nn._losses import PROBABILITY_FLOOR, column_errors_from_mean
from ..train._net import autocast, fast_inference
from ..utils._memory import inference_batch_rows
from ..utils._table import check_min_rows
from ..utils._validation import (
    _is_float32_tensor_ready,
    check_finite_output,
    check_float32_range,
    check_n_features,
    check_no_datetimes,
    check_positive_count,
    local_random_state,
)
from ._prior import ColumnConditions


def tensor_rows(X, start, stop, device, zero_copy=False):
    """Rows ``start:stop`` of ``X`` as a float32 tensor on ``device``.

    With ``zero_copy`` (a writable float32 C-contiguous ``X``, see
    :func:`~skaevae.utils._validation._is_float32_tensor_ready`) the rows are
    a view of X; anything else is converted, one batch-sized copy.
    """
    if zero_copy:
        x = torch.from_numpy(X[start:stop])
    else:
        # Overflow becomes inf here; the caller's check reports it as sklearn would.
        with np.errstate(over="ignore"):
            x = torch.from_numpy(np.array(X[start:stop], dtype=np.float32, order="C"))
    return x.to(device, non_blocking=True)


def tensor_batches(X, batch_size, device):
    """Yield ``(start, stop, x)``: float32 tensors of consecutive row slices of ``X``.

    A writable float32 C-contiguous ``X`` is sliced without copying; anything
    else is converted one batch at a time, so at most one batch-sized copy
    exists beyond the input.
    """
    zero_copy = _is_float32_tensor_ready(X)
    for start in range(0, X.shape[0], batch_size):
        stop = min(start + batch_size, X.shape[0])
        x = tensor_rows(X, start, stop, device, zero_copy)
        yield start, stop, x
        # Drop this batch before the next one is made: one batch at a time.
        del x


def activation_bytes(module, default_width):
    """One row's widest float32 activation in ``module``: the bytes per row of a batch.

    A user network without Linear layers (a convolution's width is not known
    here) counts as ``default_width``, the input's width.
    """
    widest = max(
        (
            max(m.in_features, m.out_features)
            for m in module.modules()
            if isinstance(m, torch.nn.Linear)
        ),
        default=default_width,
    )
    return 4 * widest


def map_batches(
    fn,
    inputs,
    n_out,
    dtype,
    *,
    module,
    device,
    precision,
    row_bytes,
    estimator_name,
    draws=1,
    check_finite=False,
    check_output=None,
    allow_inf=False,
    table=False,
):
    """Apply ``fn`` to the named arrays ``inputs`` in batches of rows, into a new array.

    ``inputs`` maps names to arrays with one row per output row (the rows
    ``x``, and side inputs such as a ``condition``, codes ``z`` or ``noise``);
    ``fn`` is called with one float32 tensor batch of each, by name, and
    returns the batch's output. Output is written into one preallocated
    array, so memory stays at the inputs, the output and one batch, sized
    from ``working_memory`` by :func:`~skaevae.utils._memory.inference_batch_rows`
    for ``row_bytes`` of activations times ``draws`` rows per row (the VAE's
    importance samples).

    With ``check_finite``, each batch of ``inputs["x"]`` is checked for NaN
    and infinity as :func:`~sklearn.utils.validation.check_array` would, and
    float64 values for overflow of float32. Under scikit-learn's
    ``assume_finite`` a float32 X is not checked (as ``check_array`` skips
    its own pass), and a float64 X only for overflow.

    With ``check_output`` (the public method's name), the output is checked
    as :func:`check_finite_output` does (NaN only with ``allow_inf``; its
    advice for a mixed table, which the model standardises, with ``table``). Each
    batch's output is summed while in cache; the exact pass over the whole
    output runs only when the total of those sums is not finite.
    """
    zero_copy = {name: _is_float32_tensor_ready(array) for name, array in inputs.items()}
    X = inputs["x"] if check_finite else None
    check_finite = check_finite and (X.dtype == np.float64 or not get_config()["assume_finite"])
    n_rows = next(iter(inputs.values())).shape[0]
    if any(array.shape[0] != n_rows for array in inputs.values()):
        shapes = {name: array.shape for name, array in inputs.items()}
        raise ValueError(f"The named inputs of a batched call differ in rows: {shapes}.")
    batch_size = inference_batch_rows(draws * row_bytes, n_rows, device)
    # Fitted modules are left in evaluation mode: switching modes walks
    # every submodule, which costs more than a small batch.
    if module.training:
        module.eval()
    out = np.empty((n_rows,) if n_out is None else (n_rows, n_out), dtype=dtype)
    total = torch.zeros((), device=device) if check_output is not None else None
    with (
        torch.inference_mode(),
        autocast(device, precision),
        # Each row of the inputs is ``draws`` rows of the network's work.
        fast_inference(device, draws * n_rows),
    ):
        for start in range(0, n_rows, batch_size):
            stop = min(start + batch_size, n_rows)
            batch = {
                name: tensor_rows(array, start, stop, device, zero_copy[name])
                for name, array in inputs.items()
            }
            # A finite sum proves the batch finite; otherwise (NaN, inf, or an
            # overflow of finite values) sklearn's exact check decides.
            if check_finite and not torch.isfinite(batch["x"].sum()):
                # NaN marks a missing entry; infinity is an error.
                assert_all_finite(
                    X[start:stop],
                    allow_nan=True,
                    input_name="X",
                    estimator_name=estimator_name,
                )
                # X has no infinity, so its float32 copy overflowed (or only the sum did).
                if torch.isinf(batch["x"]).any():
                    check_float32_range(np.asarray(X[start:stop]))
            y = fn(**batch)
            if check_output is not None:
                # Same rule as the input's: a finite (or, with allow_inf,
                # non-NaN) sum of all the batches' sums proves the output;
                # otherwise (a bad value, or a sum that overflowed) the exact
                # check below decides. No host sync per batch.
                total += y.sum(dtype=torch.float32)
            out[start:stop] = y.float().cpu().numpy()
            # Drop this batch before the next one is made: one batch at a time.
            del batch, y
    if check_output is not None:
        suspect = bool(torch.isnan(total) if allow_inf else ~torch.isfinite(total))
        if suspect:
            check_finite_output(out, check_output, allow_inf=allow_inf, table=table)
    return out


class BatchedInferenceMixin:
    """The estimators' inference methods, batch by batch over named inputs.

    Every public method validates its input, gathers the named side inputs
    of its rows (:meth:`_side_inputs`: none for an unconditional model, the
    one-hot class of a conditional one) and runs one function over batches
    with :func:`map_batches`. The model supplies ``_encode``, ``_decode``,
    ``_score_batch`` and the sampling hooks; a conditional model also the
    side inputs, which reach those functions by name.
    """

    @property
    def _module(self):
        return self.net_.module_

    def _device(self):
        # The net's device, which skorch maps to the CPU when a model fitted
        # on a GPU is unpickled on a machine without one.
        return self.net_.device

    def _check_input(self, X, ensure_all_finite=True):
        # transform and score_samples pass ensure_all_finite=False: _map_batches
        # checks each batch while it is in cache, instead of a separate pass
        # over all of X.
        check_is_fitted(self)
        check_no_datetimes(X)
        if self._table is not None:
            validate_data(self, X, skip_check_array=True, reset=False)
            check_min_rows(X, 1, self)
            # Another value of a numeric column constant in fit is scored (as
            # very unlikely), never refused.
            return self._table.encode(
                X, handle_unknown=self.handle_unknown, handle_departures="ignore"
            )
        return validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            reset=False,
            ensure_all_finite="allow-nan" if ensure_all_finite else False,
        )

    def _unseen_entries(self, X):
        """``(unknown, departures)`` of a mixed table's X, or None where it has neither.

        See :meth:`~skaevae.utils._table.TableEncoder.unseen_entries`; X has
        passed :meth:`_check_input`.
        """
        if self._table is None:
            return None
        unknown, departures = self._table.unseen_entries(
            X, categories=self.handle_unknown == "ignore"
        )
        if not (unknown.any() or departures.any()):
            return None
        return unknown, departures

    def _score_unseen(self, scores, M, n_unknown):
        """``scores`` of rows with ``n_unknown`` unseen categories each, read as missing in ``M``.

        The VAE's score is a log-likelihood: each unseen category adds the
        log-probability ``log PROBABILITY_FLOOR``.
        """
        return scores + n_unknown * np.log(PROBABILITY_FLOOR)

    def _to_table(self, M, generated=False):
        """Model-space rows as rows of the fitted table (a mixed table's schema), else M.

        ``generated`` rows (drawn, not reconstructed) keep each numeric
        column on the values seen in fit where it had few of them (see
        :meth:`~skaevae.utils._table.TableEncoder.decode`).
        """
        return M if self._table is None else self._table.decode(M, on_support=generated)

    def _map_batches(self, fn, inputs, n_out, dtype, **kwargs):
        """:func:`~skaevae.models._inference.map_batches` with this model's module and device."""
        return map_batches(
            fn,
            inputs,
            n_out,
            dtype,
            module=self._module,
            device=self._device(),
            precision=self.precision,
            row_bytes=self._activation_bytes(),
            estimator_name=type(self).__name__,
            table=self._table is not None,
            **kwargs,
        )

    def _activation_bytes(self):
        return activation_bytes(self._module, self._n_model_features)

    # Side inputs: a conditional model's condition travels by name, beside the
    # rows, through the hooks below; an unconditional model has none.

    def _side_inputs(self, y, n_rows, method):
        """The named side inputs of ``n_rows`` rows for ``method`` given ``y``: none here."""
        return {}

    def _inference_draws(self, method, side):
        """Rows of activations per input row of ``method`` (importance draws, classes)."""
        return 1

    @abstractmethod
    def _encode(self, x, **side):
        """The deterministic code of each row of tensor ``x``."""

    def _observed(self, x):
        """The module's ``observed(x)``, or ``(x, None)`` when ``x`` holds no NaN.

        A mask of ``None`` tells the module that every entry is observed, so
        a batch without NaN skips the fill and the mask (three batch-sized
        buffers). A NaN anywhere makes the sum NaN, so a sum that is not NaN
        proves there is none. On a GPU the test would wait for the device at
        every batch, so there the batch is always filled.
        """
        if x.device.type == "cpu" and not torch.isnan(x.sum()):
            return x, None
        return self._module.observed(x)

    @abstractmethod
    def _score_batch(self, x, **side):
        """Per-row score (higher = more normal) of tensor ``x``, ``(n,)``."""

    def _decode(self, z, **side):
        """The decoded mean of each code (in model space)."""
        return self._module.decode(z, **side)

    def _transform(self, X, y=None):
        X = self._check_input(X, ensure_all_finite=False)
        side = self._side_inputs(y, len(X), "transform")
        return self._map_batches(
            self._encode,
            {"x": X, **side},
            self.n_components_,
            X.dtype,
            draws=self._inference_draws("transform", side),
            check_finite=True,
            check_output="transform",
        )

    def _inverse_transform(self, X, y=None):
        check_is_fitted(self)
        Z = check_float32_range(check_array(X, dtype=[np.float64, np.float32]))
        check_n_features(
            Z.shape[1],
            self.n_components_,
            f"{type(self).__name__}.inverse_transform",
            "features (n_components)",
        )
        side = self._side_inputs(y, len(Z), "inverse_transform")
        X_original = self._map_batches(
            lambda x, **side: self._decode(x, **side),
            {"x": Z, **side},
            self._n_model_features,
            Z.dtype,
            draws=self._inference_draws("inverse_transform", side),
            check_output="inverse_transform",
        )
        return self._to_table(X_original)

    def inverse_transform(self, X):
        """Decode latent codes back to input space (the decoder's mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, n_features)
            The decoded rows; for a mixed table, in its schema (a DataFrame
            with the fitted columns and dtypes if it was fitted on one): the
            most likely value of binary and categorical columns, the
            expected value of numeric ones, integer columns rounded.
        """
        return self._inverse_transform(X)

    def _score_samples(self, X, y=None):
        raw = X
        X = self._check_input(X, ensure_all_finite=False)
        unseen = self._unseen_entries(raw)
        side = self._side_inputs(y, len(X), "score_samples")
        # -inf is a meaningful (worst) score; NaN is not.
        scores = self._map_batches(
            self._score_batch,
            {"x": X, **side},
            None,
            np.float64,
            draws=self._inference_draws("score_samples", side),
            check_finite=True,
            check_output="score_samples",
            allow_inf=True,
        )
        if unseen is not None:
            # The model read unseen categories as missing; they count as
            # very unlikely. A numeric column constant in training is a point
            # mass: another value has probability 0.
            unknown, departures = unseen
            scores = self._score_unseen(scores, X, unknown.sum(axis=1))
            scores[departures.any(axis=1)] = -np.inf
        return scores

    def score_samples(self, X):
        """Per-row score under the model; higher means more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            One score per row, a function of the row alone up to float32
            rounding: scored alone or among other rows, a row's score can
            differ in the last digits (a few parts in a million, at most a
            relative 1e-5), since vectorised kernels choose their code path
            by the number of rows.
        """
        return self._score_samples(X)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            The mean per-row score; higher is better, so
            :class:`~sklearn.model_selection.GridSearchCV` needs no scorer.
        """
        return float(np.mean(self.score_samples(X)))

    def reconstruction_errors(self, X):
        """Each entry's reconstruction error: how far each row is from its decoded code.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data; missing entries (NaN) are allowed.

        Returns
        -------
        errors : ndarray of shape (n_samples, n_features)
            Float64 errors, NaN where the entry is missing. For a float
            matrix, ``(x_j - x̂_j)²`` with ``x̂`` the decoded code of the row
            (``inverse_transform(transform(X))``). For a mixed table, one
            column per column of X, in its order: the squared error of a
            numeric column (standardised), the cross-entropy in nats of a
            binary or categorical one, and NaN for a column that had one
            value in training (the model leaves it out), except that another
            value of a numeric such column has an infinite error. Under
            ``handle_unknown="ignore"``, a category not seen in fit has the
            cross-entropy of a probability of 1e-7 (about 16.1 nats). A
            conditional model decodes the code marginalised over its classes
            (see its ``transform``).
        """
        raw = X
        X = self._check_input(X, ensure_all_finite=False)
        layout, module = self._layout(), self._module
        # The code of a row costs what transform's does (a conditional model
        # scores every class to marginalise over them).
        draws = self._inference_draws("transform", {})
        if layout is None:
            X_hat = self._map_batches(
                lambda x: self._decode(self._encode(x)),
                {"x": X},
                self.n_features_in_,
                np.float64,
                draws=draws,
                check_finite=True,
                check_output="reconstruction_errors",
            )
            return np.square(X - X_hat)

        def column_errors(x):
            z = self._encode(x)
            x, mask = module.observed(x)
            errors = column_errors_from_mean(x, self._decode(z), layout)
            # Missing columns have no error: NaN, as in (X - X̂)² of a plain X.
            return torch.where(mask > 0, errors, torch.nan)

        errors = self._map_batches(
            column_errors,
            {"x": X},
            layout.n_columns,
            np.float64,
            draws=draws,
            check_finite=True,
        )
        errors = self._table.by_column(errors)
        unseen = self._unseen_entries(raw)
        if unseen is not None:
            unknown, departures = unseen
            errors[unknown] = -np.log(PROBABILITY_FLOOR)
            errors[departures] = np.inf
        return errors

    @abstractmethod
    def _sample_codes(self, n_samples, rng, side):
        """Latent codes to decode in :meth:`sample`, ``(n_samples, n_components)``."""

    def _sample_noise(self, n_samples, rng):
        """Standard noise that :meth:`_decode_sample` turns into output noise; none by default."""
        return None

    def _decode_sample(self, z, noise=None, **side):
        """Rows generated from the codes ``z`` (and ``noise``): the decoder's output by default."""
        return self._module.decode(z)

    def _sample_side_inputs(self, n_samples, y, rng):
        """The side inputs of :meth:`sample`'s rows (drawn from ``rng`` where ``y`` is None)."""
        return {}

    def _sample(self, n_samples, y=None, random_state=None, conditions=None):
        check_is_fitted(self)
        check_positive_count(n_samples, "n_samples")
        given = None if conditions is None else ColumnConditions(conditions, self)
        rng = local_random_state(random_state)
        # All the draws are made here, from rng, so the rows do not depend on
        # how inference batches them.
        if given is None:
            side = self._sample_side_inputs(n_samples, y, rng)
            codes = self._sample_codes(n_samples, rng, side)
        else:
            codes, side = self._conditioned_codes(n_samples, y, given, rng)
        inputs = {"x": codes, **side}
        noise = self._sample_noise(n_samples, rng)
        if noise is not None:
            inputs["noise"] = noise
        X = self._map_batches(
            lambda x, **rest: self._decode_sample(x, **rest),
            inputs,
            self._n_model_features,
            np.float32,
        )
        X = self._to_table(X, generated=True)
        return X if given is None else given.apply(X, self._table)

    def sample(self, n_samples=1, random_state=None):
        """Generate rows in input space.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. ``None`` seeds from fresh OS entropy; numpy's
            and torch's global RNG states are never used.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Generated rows (float32); for a mixed table, in its schema (see
            :meth:`inverse_transform`).
        """
        return self._sample(n_samples, random_state=random_state)
