"""Maximum-likelihood fits: BG/NBD and Gamma-Gamma with lifetimes' likelihoods and our own
optimiser set-up (``bgnbd_mle``, ``gamma_gamma_mle``); the competing purchase models through
lifetimes on compressed statistics.

lifetimes' fitters accept ``weights``: fitting the unique (frequency, recency, T) rows weighted by
customer counts maximises the same likelihood as fitting every customer, so the parameters are
those of lifetimes' unweighted fit while the optimiser touches far fewer rows.
"""

from __future__ import annotations

import numpy as np

from clv.data import compress

#: Purchase models that can be compared on holdout error, by name -> lifetimes fitter class.
PURCHASE_MODELS = ("bgnbd", "mbgnbd", "paretonbd")


class FitError(RuntimeError):
    """The optimiser did not converge; the message says which model and a likely reason."""


def _converged(fit, model: str, hint: str):
    import contextlib
    import io

    from lifetimes.utils import ConvergenceError

    try:
        # lifetimes prints the whole scipy result to stdout before raising; the FitError says it.
        with contextlib.redirect_stdout(io.StringIO()):
            return fit()
    except ConvergenceError as err:
        raise FitError(f"the {model} maximum-likelihood fit did not converge; {hint}") from err


def _fitter(model: str):
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

    classes = {
        "bgnbd": BetaGeoFitter,
        "mbgnbd": ModifiedBetaGeoFitter,
        "paretonbd": ParetoNBDFitter,
    }
    if model not in classes:
        raise ValueError(f"unknown purchase model '{model}'; expected one of {PURCHASE_MODELS}")
    return classes[model]()


def fit_purchase_model(frequency, recency, T, model: str = "bgnbd"):
    """A fitted lifetimes purchase model (``bgnbd``, ``mbgnbd`` or ``paretonbd``).

    ``frequency`` counts repeat purchases, ``recency`` and ``T`` are in time units (shape (n,)).
    The fit runs on unique rows with weights; the returned fitter predicts for any customers.
    """
    rows = compress(frequency=frequency, recency=recency, T=T)
    fitter = _fitter(model)
    return _converged(
        lambda: fitter.fit(
            rows.columns["frequency"].astype(int),
            rows.columns["recency"],
            rows.columns["T"],
            weights=rows.weights,
        ),
        model,
        "too few repeat purchases, or a calibration period too short to show them",
    )


def fit_bgnbd(frequency, recency, T) -> dict[str, float]:
    """BG/NBD maximum-likelihood parameters r, alpha (time units), a, b.

    Maximises lifetimes' BetaGeoFitter likelihood with an analytic gradient on distinct values
    (:mod:`clv.bgnbd_mle`): the same optimum, several times faster at a million customers."""
    from clv import bgnbd_mle

    params, converged, message = bgnbd_mle.fit(frequency, recency, T)
    if not converged:
        raise FitError(
            f"the bgnbd maximum-likelihood fit did not converge ({message}); too few repeat "
            "purchases, or a calibration period too short to show them"
        )
    return params


def fit_gamma_gamma(frequency, monetary_value) -> dict[str, float]:
    """Gamma-Gamma maximum-likelihood parameters p, q, v (currency) from repeat customers.

    Pass only customers with frequency > 0 and monetary_value > 0 (see
    :func:`gamma_gamma_sample`). Maximises lifetimes' GammaGammaFitter likelihood, but with
    rescaled amounts, a moment-based start and an analytic gradient
    (:mod:`clv.gamma_gamma_mle`): lifetimes' own start fails to converge on ordinary data.
    """
    from clv import gamma_gamma_mle

    # Mean spends are continuous, so compressing would cost a sort and save few rows.
    params, converged, message = gamma_gamma_mle.fit(frequency, monetary_value)
    if not converged:
        raise FitError(
            f"the Gamma-Gamma maximum-likelihood fit did not converge ({message}; p, q, v = "
            f"{params['p']:.4g}, {params['q']:.4g}, {params['v']:.4g}); mean spend hardly varies "
            "between customers beyond what single purchases explain (q and v run off to "
            "infinity), so the population spend per purchase is the better estimate"
        )
    return params


def gamma_gamma_sample(frequency, monetary_value) -> np.ndarray:
    """Mask (shape (n,)) of the customers the Gamma-Gamma model can use: repeat buyers with a
    positive mean repeat amount (its likelihood needs log(m))."""
    return (np.asarray(frequency) > 0) & (np.asarray(monetary_value) > 0)


def holdout_predictions(fitter, frequency, recency, T, holdout_length: float) -> np.ndarray:
    """Expected purchases in the holdout period (``holdout_length`` units) per customer."""
    rows = compress(frequency=frequency, recency=recency, T=T)
    predicted = fitter.conditional_expected_number_of_purchases_up_to_time(
        holdout_length,
        rows.columns["frequency"],
        rows.columns["recency"],
        rows.columns["T"],
    )
    return np.asarray(predicted, dtype=float)[rows.inverse]
