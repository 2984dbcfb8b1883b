"""Purchase models compared with BG/NBD on holdout error: Pareto/NBD (Schmittlein, Morrison &
Colombo 1987) and the modified BG/NBD (Batislam, Denizel & Filiztekin 2007), as estimators of
the same form as ``clv.BetaGeo``: ``fit(rfm)`` returns ``self``, ``params_``, ``p_alive(rfm)``,
``expected_purchases(t, rfm)``.

Maximum likelihood only (there is no PyMC model of these two): lifetimes' fitters, run on unique
(frequency, recency, T) rows with customer counts as weights (the same likelihood as every
customer, far fewer rows), and their closed forms evaluated per unique row.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import xarray as xr

from clv.data import as_rfm, check_purchases, compress
from clv.inference import FitError
from clv.settings import BGNBD_PARAMS, PARETO_NBD_PARAMS


class _LifetimesModel:
    """A lifetimes purchase fitter on compressed rows, with xarray predictions."""

    _label = ""
    _names: tuple[str, ...] = ()

    def _fitter(self):
        raise NotImplementedError

    def fit(self, rfm: pd.DataFrame | xr.Dataset, weights: np.ndarray | None = None):
        """Fit on ``rfm`` (frequency, recency, T per customer, or unique rows with
        ``weights``). Raises ``clv.DataError`` for data that cannot identify the model and
        ``clv.FitError`` when lifetimes' optimiser does not converge."""
        from lifetimes.utils import ConvergenceError

        data = as_rfm(rfm, weights=weights, labels=False)
        check_purchases(data, self._label)
        rows = compress(
            weights=data.weights, frequency=data.frequency, recency=data.recency, T=data.T
        )
        fitter = self._fitter()
        try:
            # lifetimes prints the whole scipy result to stdout before raising.
            with contextlib.redirect_stdout(io.StringIO()):
                fitter.fit(
                    rows.columns["frequency"].astype(int),
                    rows.columns["recency"],
                    rows.columns["T"],
                    weights=rows.weights,
                )
        except ConvergenceError as err:
            raise FitError(
                f"the {self._label} maximum-likelihood fit did not converge; too few repeat "
                "purchases, or a calibration period too short to show them"
            ) from err
        self.fitter_ = fitter
        self.params_ = xr.DataArray(
            [float(fitter.params_[k]) for k in self._names],
            dims="param",
            coords={"param": list(self._names)},
        )
        return self

    def p_alive(self, rfm: pd.DataFrame | xr.Dataset) -> xr.Dataset:
        """P(alive at T) per customer: ``p_alive(customer_id)``."""
        return self._per_customer("p_alive", rfm, self.fitter_.conditional_probability_alive)

    def expected_purchases(self, t: float, rfm: pd.DataFrame | xr.Dataset) -> xr.Dataset:
        """Expected purchases in the next ``t`` time units per customer:
        ``expected_purchases(customer_id)``."""
        fitter = self.fitter_

        def expected(x, t_x, big_t):
            return fitter.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, big_t)

        return self._per_customer("expected_purchases", rfm, expected)

    def _per_customer(self, name: str, rfm, function) -> xr.Dataset:
        data = as_rfm(rfm)
        rows = compress(frequency=data.frequency, recency=data.recency, T=data.T)
        values = np.asarray(
            function(rows.columns["frequency"], rows.columns["recency"], rows.columns["T"]),
            dtype=float,
        )
        return xr.Dataset(
            {name: ("customer_id", values[rows.inverse])},
            coords={"customer_id": data.customer_id},
        )


class ParetoNBD(_LifetimesModel):
    """Pareto/NBD: Poisson purchases at rate lambda ~ Gamma(r, alpha) while alive, an
    exponential lifetime with rate mu ~ Gamma(s, beta); ``params_`` (param = r, alpha, s, beta;
    alpha and beta in time units)."""

    _label = "Pareto/NBD"
    _names = PARETO_NBD_PARAMS

    def _fitter(self):
        from lifetimes import ParetoNBDFitter

        return ParetoNBDFitter()


class ModifiedBetaGeo(_LifetimesModel):
    """Modified BG/NBD: as BG/NBD, but a customer may also drop out right after the first
    purchase; ``params_`` (param = r, alpha, a, b; alpha in time units)."""

    _label = "modified BG/NBD"
    _names = BGNBD_PARAMS

    def _fitter(self):
        from lifetimes import ModifiedBetaGeoFitter

        return ModifiedBetaGeoFitter()
