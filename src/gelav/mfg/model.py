r"""Model classes of the GE-LAV mean-field game of LP exits.

A population of limited partners (LPs), split into types :math:`k = 1..K` with
weights :math:`w_k`, holds stakes in private funds. An LP of type :math:`k` has a
liquidity state

.. math::

    dL = \big[\kappa_k(\bar L_k - L) + \lambda_k\,(m(t) - L)
           + \eta_k\,(\pi_k(t) - \bar\pi_k(t)) - q_k\,s_{Q4}(t)\big]\,dt + \sigma_k\,dW ,

where :math:`m(t)` is the mean liquidity of the holders (McKean–Vlasov term)
and :math:`\pi_k - \bar\pi_k \le 0` the crowding part of the secondary price
(fire-sale feedback). Holding a stake of NAV 1 until the fund's end
:math:`T_k` earns the running reward

.. math::

    f_k(t, L) = y_k - c_k\,\big(1 + q_{c,k}\,s_{Q4}(t)\big)(L_{d,k} - L)^+

(distribution yield minus a liquidity penalty that is heavier in the fourth
quarter; :math:`q_k s_{Q4}` is an optional fourth-quarter liquidity drain from
year-end rebalancing) discounted at :math:`r_k`; at :math:`T_k` the stake pays its
NAV. Exiting at :math:`t` pays the secondary price :math:`\pi_k(t, L; \mu_t)`
(see :mod:`gelav.mfg.coupling`).

Everything here is a validated frozen dataclass: the types
(:class:`LPType`), the secondary market (:class:`Market`), the whole model
(:class:`MFGModel`) and the numerical settings (:class:`Numerics`,
:class:`SolverOptions`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gelav._validation import (
    MAX_CELLS,
    MAX_HORIZON,
    MAX_RATE,
    check_finite,
    check_horizon,
    check_int,
    check_interval,
    check_named,
    check_nonnegative,
    check_positive,
    check_rate,
    check_size,
    set_checked,
)

__all__ = [
    "AUTO_NUMBA_CELL_STEPS",
    "FIXED_POINT_METHODS",
    "LPType",
    "MFGModel",
    "Market",
    "Numerics",
    "SolverOptions",
]

#: fixed-point methods accepted by :func:`gelav.mfg.solve` (see :mod:`gelav.mfg.solver`)
FIXED_POINT_METHODS = ("auto", "picard", "fictitious", "anderson", "newton-krylov")

#: Largest liquidity level accepted (``mean``, ``distress_level``, a starting point or law): the
#: liquidity state is in units of order one, so 1e6 is far beyond any model.
MAX_LEVEL = 1e6


def _check_initial(initial: Any) -> Any:
    if isinstance(initial, str):
        if initial != "stationary":
            raise ValueError(
                f"`initial` = {initial!r}: use 'stationary', a number (point mass), "
                "('normal', mean, sd), a frozen scipy distribution or an array of node masses."
            )
        return initial
    if isinstance(initial, bool):
        raise TypeError("`initial` must not be a bool.")
    if isinstance(initial, (int, float, np.integer, np.floating)):
        return check_finite("initial", initial, maximum=MAX_LEVEL)
    if isinstance(initial, (tuple, list)) and len(initial) == 3 and initial[0] == "normal":
        m = check_finite("initial mean", initial[1], maximum=MAX_LEVEL)
        s = check_positive("initial sd", initial[2], maximum=MAX_LEVEL)
        return ("normal", m, s)
    if hasattr(initial, "cdf") and hasattr(initial, "ppf"):
        return initial
    if isinstance(initial, np.ndarray):
        a = np.asarray(initial, dtype=float)
        if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError("`initial` node masses must be a finite, non-negative 1-D array.")
        return a
    raise TypeError(
        f"`initial` has unsupported type {type(initial).__name__}; use 'stationary', a number, "
        "('normal', mean, sd), a frozen scipy distribution or an array of node masses."
    )


def q4_profile(t: np.ndarray) -> np.ndarray:
    r"""Fourth-quarter profile :math:`\sin^2(4\pi(t \bmod 1 - 3/4))` on Q4, 0 elsewhere (mean 1/8 over a year)."""
    u = np.asarray(t, dtype=float) % 1.0
    return np.where(u >= 0.75, np.sin(4.0 * np.pi * (u - 0.75)) ** 2, 0.0)


@dataclass(frozen=True, eq=False)
class LPType:
    r"""One type of LP (pension fund, endowment, sovereign fund, ...).

    Parameters
    ----------
    name : str
        Label used in tables and plots.
    weight : float
        Population weight :math:`w_k > 0` (weights are normalised to sum to 1).
    kappa, mean, sigma : float
        OU liquidity dynamics: mean reversion :math:`\kappa` [1/year], long-run
        level :math:`\bar L` [liquidity units], volatility :math:`\sigma`
        [units/√year]. Seed defaults 0.45, 1.0, 0.32.
    herding : float
        McKean–Vlasov pull :math:`\lambda \ge 0` towards the holders' mean
        :math:`m(t)` [1/year]. Default 0.
    feedback : float
        Fire-sale feedback :math:`\eta \ge 0` [liquidity units per year per unit
        of NAV discount]: falling prices push :math:`L` down. Default 0. Makes
        the game non-monotone.
    fund_end : float, optional
        Fund end :math:`T_k` [years from now]; default the market horizon.
        Types with different ends are vintages sharing one market.
    yield_rate : float
        Distribution yield :math:`y` [NAV/year]. Default 0.04.
    discount_rate : float
        Discount rate :math:`r` [1/year]. Default 0.06.
    liquidity_cost : float
        Liquidity penalty :math:`c` [NAV/year per unit of shortfall below
        ``distress_level``]. Default 0.12.
    distress_level : float
        :math:`L_d`: the liquidity level below which holding costs money. Default 0.
    q4_drain : float
        Fourth-quarter liquidity drain :math:`q` [liquidity units/year]: year-end
        rebalancing (the denominator effect) pulls :math:`L` down by
        :math:`q\,s_{Q4}(t)` in the drift, with the smooth profile
        :math:`s_{Q4}(t) = \sin^2(4\pi(t \bmod 1 - 3/4))` inside Q4 and 0
        outside (time in years from 1 January). Default 0.
    q4_cost : float
        Year-end denominator effect :math:`q_c \ge 0`: during Q4 the liquidity
        penalty is multiplied by :math:`1 + q_c\,s_{Q4}(t)`. Default 0.
    initial : "stationary", float, ("normal", mean, sd), scipy distribution or array
        Starting law of the type's liquidity state: the stationary OU law, a
        point mass, a Gaussian, any frozen scipy distribution, or node masses on
        the solver grid (restarts). Default "stationary".
    dynamics : gelav.processes.Process, optional
        Own liquidity dynamics :math:`dL = b(t, L)\,dt + \sigma(t, L)\,dW` replacing the OU part
        :math:`\kappa(\bar L - L)\,dt + \sigma\,dW` (``kappa`` and ``sigma`` are then unused; herding,
        feedback and the Q4 drain still add to the drift), e.g. a model typed in as text
        (:func:`gelav.tasks._models.custom_process`). Needs an explicit ``initial`` law.

    Examples
    --------
    >>> LPType(name="pension", weight=0.5, liquidity_cost=0.4).kappa
    0.45
    """

    name: str = "LP"
    weight: float = 1.0
    kappa: float = 0.45
    mean: float = 1.0
    sigma: float = 0.32
    herding: float = 0.0
    feedback: float = 0.0
    fund_end: float | None = None
    yield_rate: float = 0.04
    discount_rate: float = 0.06
    liquidity_cost: float = 0.12
    distress_level: float = 0.0
    q4_drain: float = 0.0
    q4_cost: float = 0.0
    initial: Any = "stationary"
    dynamics: Any = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LPType):
            return NotImplemented
        for f in self.__dataclass_fields__:
            a, b = getattr(self, f), getattr(other, f)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string, got {self.name!r}.")
        # rates per year bounded by MAX_RATE, levels by MAX_LEVEL (a fire-sale feedback or a starting
        # level of 1e12 used to run the fixed point without end)
        set_checked(self, check_positive, "weight", maximum=MAX_RATE)
        set_checked(self, check_nonnegative, "kappa", "herding", "feedback", "discount_rate", "liquidity_cost",
                    "q4_drain", "q4_cost", maximum=MAX_RATE)
        set_checked(self, check_finite, "mean", "distress_level", maximum=MAX_LEVEL)
        set_checked(self, check_rate, "sigma")
        set_checked(self, check_rate, "yield_rate", positive=False)
        if self.fund_end is not None:
            set_checked(self, check_horizon, "fund_end")
        object.__setattr__(self, "initial", _check_initial(self.initial))
        if self.dynamics is not None:
            if not (callable(getattr(self.dynamics, "drift", None)) and callable(getattr(self.dynamics, "diffusion", None))):
                raise TypeError(f"`dynamics` must be a process with drift(t, x) and diffusion(t, x), got "
                                f"{type(self.dynamics).__name__}.")
            if isinstance(self.initial, str):
                raise ValueError("`dynamics` (own liquidity dynamics) needs an explicit `initial` law: the stationary "
                                 "law is known only for the OU dynamics.")
        if isinstance(self.initial, str) and self.kappa + self.herding == 0:
            raise ValueError("`initial`='stationary' needs `kappa` > 0 (no stationary law otherwise).")

    @property
    def stationary_sd(self) -> float:
        """Standard deviation :math:`\\sigma/\\sqrt{2\\kappa}` of the stationary OU law."""
        return self.sigma / math.sqrt(2.0 * self.kappa) if self.kappa > 0 else math.inf

    def initial_law(self) -> Any:
        """The starting law as a frozen scipy distribution, a float (point mass) or an array."""
        normal = self.initial_normal()
        return normal.scipy() if normal is not None else self.initial

    def initial_normal(self) -> Any:
        """The starting law as a light :class:`~gelav.processes.laws.Normal` when it is normal, else None.

        The same numbers as :meth:`initial_law` without importing ``scipy.stats`` (start-up cost).
        """
        from gelav.processes.laws import Normal

        ini = self.initial
        if isinstance(ini, str):
            return Normal(self.mean, self.stationary_sd)
        if isinstance(ini, tuple):
            return Normal(ini[1], ini[2])
        return None

    def running_reward(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        r""":math:`f(t, L) = y - c\,(1 + q_c s_{Q4}(t))\,(L_d - L)^+` [NAV/year], broadcast over ``t`` and ``x``."""
        t = np.asarray(t, dtype=float)
        x = np.asarray(x, dtype=float)
        scale = 1.0 + self.q4_cost * q4_profile(t) if self.q4_cost else 1.0
        return self.yield_rate - self.liquidity_cost * scale * np.maximum(self.distress_level - x, 0.0) + 0.0 * t


@dataclass(frozen=True)
class Market:
    r"""The secondary market: the default linear-in-moments, monotone price.

    .. math::

        \pi_k(t, L; \mu) = \mathrm{NAV}\,\big[1 - d_0 - d_1 (T_k - t)
            - \beta\,D(t) - \gamma\,F(t) - \delta\,(L_d - L)^+\big],

    with :math:`D(t) = \sum_k w_k \mu_k(t, \{L < L_d\})` the distressed mass of
    holders and :math:`F(t)` the selling pressure (exit flow, fraction of the
    initial population selling per year, smoothed over ``absorption_time``).

    Parameters
    ----------
    horizon : float
        Default fund end :math:`T` [years] for types without ``fund_end``. Default 5.
    nav : float
        Net asset value of a stake: the unit of value. Every input in NAV (``yield_rate``,
        ``liquidity_cost``, the temperature δ, a ``tax``) is a multiple of it and the feedback
        ``η`` reads the discount as a share of it, so values, prices and welfare scale with
        ``nav`` while exits, discounts and τ* [share of NAV] do not. The buyers' ``capital``
        and ``inflow`` are money and do not scale. Default 1.
    base_discount : float
        :math:`d_0`, discount to NAV at the fund's end. Default 0.08.
    discount_per_year : float
        :math:`d_1`, extra discount per year of remaining life. Default 0.02.
    distress_impact : float
        :math:`\beta`, discount per unit of distressed mass. Default 0.15.
    flow_impact : float
        :math:`\gamma`, discount per unit of exit flow [years]. Default 0.05.
    own_distress : float
        :math:`\delta`, extra discount per unit of the seller's own shortfall. Default 0.
    distress_level : float
        :math:`L_d` of the market: holders below it count as distressed. Default 0.
    absorption_time : float
        :math:`\\tau` [years]: the selling pressure :math:`F` is the exit flow
        smoothed over the time the market needs to absorb supply,
        :math:`F(t) = \\int_0^t \\tau^{-1} e^{-(t-s)/\\tau}\\,dE(s)` with :math:`E`
        the cumulative exits (fraction of the population per year). A block of
        exits at one instant then moves the price by a finite amount. 0 means
        the instantaneous flow (step dependent for block exits). Default 0.25.
    coupling : callable, optional
        A user price ``coupling(t, L, stats) -> price`` replacing the formula
        above; ``stats`` is a dict with ``distressed``, ``flow``, ``mean``,
        ``holders``, ``remaining`` (:math:`T_k - t`), ``nav`` and ``type`` (the
        type index). See :class:`gelav.mfg.coupling.CallableCoupling`.
    buyers : gelav.mfg.Buyers, optional
        Secondary buyers with finite dry powder: the price is lowered by the
        clearing premium :math:`\lambda^*(t)` (see :mod:`gelav.mfg.buyers`).
    tax : number, callable (t, L), table (times, nodes, values) or PigouvianTax, optional
        A charge on every sale, rebated lump-sum (see :mod:`gelav.mfg.tax`).
    """

    horizon: float = 5.0
    nav: float = 1.0
    base_discount: float = 0.08
    discount_per_year: float = 0.02
    distress_impact: float = 0.15
    flow_impact: float = 0.05
    own_distress: float = 0.0
    distress_level: float = 0.0
    absorption_time: float = 0.25
    coupling: Callable[..., Any] | None = None
    buyers: Any = None
    tax: Any = None

    def __post_init__(self) -> None:
        # market clearing and taxes (see docs/welfare.md)
        from gelav.mfg import buyers as _buyers
        from gelav.mfg import tax as _tax

        object.__setattr__(self, "buyers", _buyers.check_buyers(self.buyers))
        object.__setattr__(self, "tax", _tax.check_tax(self.tax))
        set_checked(self, check_horizon, "horizon")
        set_checked(self, check_positive, "nav", maximum=MAX_LEVEL)
        if self.nav < 1.0 / MAX_LEVEL:  # values of order nav: keep them (and nav × temperature) normal floats
            raise ValueError(f"`nav` must be at least {1.0 / MAX_LEVEL:g} (a change of unit), got {self.nav:g}.")
        set_checked(self, check_finite, "base_discount", maximum=MAX_RATE)
        set_checked(self, check_rate, "discount_per_year", positive=False)
        set_checked(self, check_nonnegative, "distress_impact", "flow_impact", "own_distress", maximum=MAX_RATE)
        set_checked(self, check_finite, "distress_level", maximum=MAX_LEVEL)
        set_checked(self, check_nonnegative, "absorption_time", maximum=MAX_HORIZON)
        if self.coupling is not None and not callable(self.coupling):
            raise TypeError(f"`coupling` must be callable (t, L, stats) -> price, got {type(self.coupling).__name__}.")


@dataclass(frozen=True)
class MFGModel:
    """A population of LP types trading on one secondary market.

    Parameters
    ----------
    types : sequence of LPType
        At least one type; weights are normalised to sum to 1.
    market : Market
        The secondary market (price formula or user coupling).
    name : str
        Label for reports.

    Examples
    --------
    >>> m = MFGModel((LPType(initial=-0.5),), Market(distress_impact=0.5))
    >>> m.horizon
    5.0
    """

    types: tuple[LPType, ...] = (LPType(),)
    market: Market = field(default_factory=Market)
    name: str = "mfg"

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", check_named("types", self.types, LPType, article="an"))
        if not isinstance(self.market, Market):
            raise TypeError(f"`market` must be a Market, got {type(self.market).__name__}.")

    @property
    def weights(self) -> np.ndarray:
        """Normalised type weights."""
        w = np.array([t.weight for t in self.types], dtype=float)
        return w / w.sum()

    def fund_end(self, k: int) -> float:
        """:math:`T_k` [years]."""
        t = self.types[k].fund_end
        return self.market.horizon if t is None else float(t)

    @property
    def horizon(self) -> float:
        """The longest fund end (the game's horizon)."""
        return max(self.fund_end(k) for k in range(len(self.types)))

    @property
    def monotone(self) -> bool:
        """True when the Lasry–Lions-type argument for a unique equilibrium applies.

        The default price (linear in the distressed mass and the exit flow)
        with no fire-sale feedback (:math:`\\eta = 0`) is monotone; a user
        coupling or :math:`\\eta > 0` is treated as possibly non-monotone.
        """
        return self.market.coupling is None and all(t.feedback == 0 for t in self.types)

    @property
    def decoupled(self) -> bool:
        """True when nobody's problem depends on the population (one best response is the equilibrium)."""
        m = self.market
        return (
            m.coupling is None
            and m.distress_impact == 0
            and m.flow_impact == 0
            and (m.buyers is None or m.buyers.unlimited)
            and all(t.herding == 0 and t.feedback == 0 for t in self.types)
        )

    def without_feedback(self) -> MFGModel:
        """The same LPs facing the base price only (no crowding, herding or fire-sale feedback).

        This is the DCF-style single-LP view: each LP solves its own optimal
        stopping problem as if the others did not exist.
        """
        mk = replace(self.market, distress_impact=0.0, flow_impact=0.0, coupling=None, buyers=None)
        ts = tuple(replace(t, herding=0.0, feedback=0.0) for t in self.types)
        return replace(self, types=ts, market=mk, name=self.name + " (no feedback)")

    def with_initial(self, initial: Sequence[Any] | Any) -> MFGModel:
        """Copy with new starting laws (one per type, or one for all)."""
        if not isinstance(initial, (list, tuple)) or (len(initial) == 3 and initial[0] == "normal"):
            initial = [initial] * len(self.types)
        if len(initial) != len(self.types):
            raise ValueError(f"`initial` needs one entry per type ({len(self.types)}), got {len(initial)}.")
        return replace(self, types=tuple(replace(t, initial=i) for t, i in zip(self.types, initial, strict=True)))


#: smallest relaxation ε [years] (and temperature δ [NAV]) accepted: the exit intensity is of order
#: 1/(εδ), which below this is a hard stop to rounding and overflows the sweeps' products near 1e-150
MIN_RELAXATION = 1e-12


def _relaxation(name: str, value: Any) -> float:
    """``value`` as a relaxation in [:data:`MIN_RELAXATION`, ``MAX_HORIZON``], or ValueError naming ``name``."""
    v = check_positive(name, value, maximum=MAX_HORIZON)
    if v < MIN_RELAXATION:
        raise ValueError(f"`{name}` must be at least {MIN_RELAXATION:g}, got {v:g}: below it the relaxed exit is "
                         "a hard stop to rounding (and the exit intensity overflows).")
    return v


ENGINES = ("auto", "numpy", "numba")
#: Cell-steps (``n_cells × n_steps``) from which ``engine="auto"`` takes Numba. Measured on the
#: ``stress`` preset (2 cores): the compiled sweeps save about 3 µs per cell-step of a whole
#: equilibrium (NumPy 5.5 µs, Numba 2.5 µs at 600 × 600), and loading them costs about 1.2 s per
#: process (importing numba and its on-disk cache), so they pay from about 400,000 cell-steps.
AUTO_NUMBA_CELL_STEPS = 400_000


@dataclass(frozen=True)
class Numerics:
    r"""Discretisation and relaxation settings.

    Parameters
    ----------
    n_cells : int
        Space cells of the common liquidity grid. Default 200.
    n_steps : int
        Time steps over the longest horizon. Default 200.
    domain : (float, float), optional
        Liquidity interval (reflecting ends); default: all but 1e-10 of every
        type's starting and stationary law, widened by 20 %.
    scheme : {"cn", "euler"} or another registered θ-scheme
        Crank–Nicolson with Rannacher start-up for the diffusion, or backward
        Euler (any θ-scheme of :data:`gelav.fd.schemes.SCHEMES`). The exit
        killing is always implicit (positivity).
    epsilon : float
        Relaxation :math:`\varepsilon` [years]: the exit intensity is
        :math:`\varepsilon^{-1}\varphi((\pi - V)/\delta)` with
        :math:`\varphi(z) = z_+^2/(1 + z_+)`. Default 1e-3.
    temperature : float, optional
        :math:`\delta` [NAV]; default ``epsilon`` (NAV units).
    continuation : sequence of float, optional
        Relaxations solved first, each warm-starting the next (default: powers
        of ten from 0.1 down to ``epsilon``).
    control : {"newton", "lagged"}
        Exit intensity implicit in the step (Newton, the default; converges to
        the obstacle problem as :math:`\varepsilon \to 0` to solver precision)
        or lagged from the previous time level (one solve per step, O(Δt)).
    engine : {"auto", "numpy", "numba"}
        How the sweeps run: NumPy + LAPACK per time step, or compiled Numba
        kernels (optional extra ``fast``; the same scheme to rounding, several
        times faster on fine grids; compiled on first use and cached on disk).
        ``"auto"`` (default) takes Numba whenever it is importable and the grid
        has at least :data:`AUTO_NUMBA_CELL_STEPS` cell-steps
        (``n_cells × n_steps``); below that, loading the compiled kernels
        (about 1 s per process) costs more than the NumPy solve.
        :attr:`resolved_engine` says which one runs.
    """

    n_cells: int = 200
    n_steps: int = 200
    domain: tuple[float, float] | None = None
    scheme: str = "cn"
    epsilon: float = 1e-3
    temperature: float | None = None
    continuation: tuple[float, ...] | None = None
    control: str = "newton"
    engine: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_cells", check_int("n_cells", self.n_cells, minimum=4, maximum=MAX_CELLS))
        object.__setattr__(self, "n_steps", check_int("n_steps", self.n_steps, minimum=2, maximum=MAX_CELLS))
        check_size({"n_cells": self.n_cells + 1, "n_steps": self.n_steps})
        if self.domain is not None:
            object.__setattr__(self, "domain", check_interval("domain", self.domain))
        from gelav.fd.schemes import get_theta_scheme

        get_theta_scheme(self.scheme, why=" (the equilibrium sweeps are θ-steps)")
        object.__setattr__(self, "epsilon", _relaxation("epsilon", self.epsilon))
        if self.temperature is not None:
            object.__setattr__(self, "temperature", _relaxation("temperature", self.temperature))
        if self.continuation is not None:
            c = tuple(_relaxation("continuation", e) for e in self.continuation)
            object.__setattr__(self, "continuation", c)
        if self.control not in ("newton", "lagged"):
            raise ValueError(f"Unknown `control` {self.control!r}; use 'newton' or 'lagged'.")
        if self.engine not in ENGINES:
            raise ValueError(f"Unknown `engine` {self.engine!r}; use one of {', '.join(map(repr, ENGINES))}.")
        if self.engine == "numba":
            from gelav.mfg import _numba

            if not _numba.available():
                raise ValueError("`engine`='numba' needs the optional package numba (pip install gelav[fast]).")

    @property
    def resolved_engine(self) -> str:
        """The engine that runs: ``engine``, with ``"auto"`` resolved (see the class docstring)."""
        if self.engine != "auto":
            return self.engine
        if self.n_cells * self.n_steps < AUTO_NUMBA_CELL_STEPS:
            return "numpy"
        from gelav.mfg import _numba

        return "numba" if _numba.available() else "numpy"

    @property
    def delta(self) -> float:
        """The temperature :math:`\\delta` actually used."""
        return self.epsilon if self.temperature is None else self.temperature

    def schedule(self) -> tuple[float, ...]:
        """Relaxations to solve in turn (continuation), ending at ``epsilon``."""
        if self.continuation is not None:
            s = [e for e in self.continuation if e > self.epsilon]
            return (*sorted(set(s), reverse=True), self.epsilon)
        out = []
        e = 0.1
        while e > self.epsilon * 1.0001:
            out.append(e)
            e /= 10.0
        return (*out, self.epsilon)


#: largest ``tol`` (and ``stage_tol``) of a fixed-point iteration: the aggregates are shares of the population
#: (distressed mass, selling pressure per year) and a mean liquidity, so a residual above 0.1 is no equilibrium
#: (``tol = 1e308`` printed the first best response as one)
MAX_TOL = 0.1


def check_iteration_settings(options: Any) -> None:
    """Check, in place, the settings every fixed-point iteration has (:class:`SolverOptions`,
    :class:`~gelav.mfg.control.ControlOptions`): ``tol`` in (0, :data:`MAX_TOL`], ``max_iter`` >= 1,
    ``damping`` in (0, 1], ``memory`` >= 1; errors name the field."""
    object.__setattr__(options, "tol", check_positive("tol", options.tol, maximum=MAX_TOL))
    object.__setattr__(options, "max_iter", check_int("max_iter", options.max_iter, minimum=1, maximum=MAX_CELLS))
    d = check_positive("damping", options.damping)
    if d > 1:
        raise ValueError(f"`damping` must lie in (0, 1], got {d}.")
    object.__setattr__(options, "damping", d)
    object.__setattr__(options, "memory", check_int("memory", options.memory, minimum=1, maximum=MAX_CELLS))


def check_model(model: Any, numerics: Any = None) -> tuple[MFGModel, Numerics]:
    """``(model, numerics)`` as the equilibrium solvers take them: an :class:`MFGModel` and a
    :class:`Numerics` (default ``Numerics()``); a ``TypeError`` naming the argument otherwise."""
    if not isinstance(model, MFGModel):
        raise TypeError(f"`model` must be an MFGModel, got {type(model).__name__}.")
    numerics = numerics or Numerics()
    if not isinstance(numerics, Numerics):
        raise TypeError(f"`numerics` must be a gelav.mfg.Numerics, got {type(numerics).__name__}.")
    return model, numerics


@dataclass(frozen=True)
class SolverOptions:
    """Fixed-point settings.

    Parameters
    ----------
    method : {"auto", "picard", "fictitious", "anderson", "newton-krylov"}
        Iteration on the aggregate path. "auto" (default): Anderson at the
        target relaxation; on failure continuation in the relaxation with
        Anderson at each stage, falling back to damped Picard; where a stage
        still stalls, shorter safeguarded steps in ε from the last solved
        stage with Newton on the exact tangent
        (:func:`gelav.mfg.fixed_point.refine_continuation`).
    tol : float
        Stop when :math:`\\|\\Phi(Z) - Z\\|_\\infty <` tol. Default 1e-8. At least one unit in the last
        place of the path's largest entry (about 2.2e-16 for an O(1) path): a smaller one is unreachable,
        a ValueError at the first evaluation.
    max_iter : int
        Iterations per relaxation stage before :class:`ConvergenceError`. Default 400.
    damping : float
        Weight of the new iterate in damped Picard (1 = plain Picard). Default 0.5.
    memory : int
        Anderson memory. Default 6.
    stage_tol : float
        Tolerance of the intermediate continuation stages. Default 1e-3.
    exploitability : bool
        Record the exploitability at every iteration (one extra linear
        evaluation per iteration when the dynamics depend on the population).
    continuation : bool
        With "auto": always go through the relaxation schedule (default False:
        only when Anderson at the target relaxation fails).
    max_seconds : float
        Wall-time budget of one :func:`gelav.mfg.solve` [seconds]: once spent,
        the next evaluation raises :class:`~gelav.errors.ConvergenceError` with
        the history (like ``max_iter``, a solve never runs without end).
        Default 3600.
    """

    method: str = "auto"
    tol: float = 1e-8
    max_iter: int = 400
    damping: float = 0.5
    memory: int = 6
    stage_tol: float = 1e-3
    exploitability: bool = True
    continuation: bool = False
    max_seconds: float = 3600.0

    def __post_init__(self) -> None:
        from gelav.mfg.fixed_point import fixed_point_method

        fixed_point_method(self.method)  # ValueError listing the registered methods
        check_iteration_settings(self)
        object.__setattr__(self, "stage_tol", check_positive("stage_tol", self.stage_tol, maximum=MAX_TOL))
        object.__setattr__(self, "max_seconds", check_positive("max_seconds", self.max_seconds))
