r"""Branches of equilibria: pseudo-arclength continuation of the fixed point in a model parameter.

An equilibrium at parameter :math:`p` is a zero of

.. math:: G(x, p) = x - \Phi(x; p),

with :math:`x` the aggregate path (the flattened :math:`Z`, see :mod:`gelav.mfg.solver`) and
:math:`\Phi` one best response followed by the population sweep. Along a branch
:math:`u(s) = (x(s), p(s))` parametrised by arclength, each step

1. predicts :math:`u^{(0)} = u_i + \Delta s\,\tau_i` along the unit tangent :math:`\tau_i`
   (:math:`G_x \tau_x + G_p \tau_p = 0`, :math:`\langle\tau_{i-1}, \tau_i\rangle > 0`);
2. corrects by Newton on the bordered system

   .. math::

       \begin{pmatrix} G_x & G_p \\ \tau_x^\top W & \tau_p \end{pmatrix}
       \begin{pmatrix} \delta x \\ \delta p \end{pmatrix}
       = -\begin{pmatrix} G(x, p) \\ \langle \tau_i, u - u^{(0)} \rangle \end{pmatrix},

   solved by GMRES (:func:`scipy.sparse.linalg.gmres`) on a
   :class:`~scipy.sparse.linalg.LinearOperator` whose products :math:`G_x v = v - D\Phi\,v` use
   the exact tangent of the discrete map at the latest evaluation of :math:`\Phi`
   (:class:`gelav.mfg.tangent.Tangent`: a linear backward and a linear forward sweep, no
   evaluation of :math:`\Phi`), or with ``jacobian="fd"`` forward differences
   :math:`(\Phi(x + hv) - \Phi(x))/h` (one evaluation each); :math:`W = I/n` weighs the path
   against the parameter;
3. adapts :math:`\Delta s` (longer after an easy correction, shorter after a hard one, halved
   after a failure, down to ``min_step``).

A **fold** (saddle-node) is where the tangent's parameter component :math:`\tau_p` changes sign:
two equilibria meet and vanish. **Stability** is read from the Jacobian :math:`D\Phi` of the
fixed-point map at each point: its eigenvalue of largest real part :math:`\lambda_1` (a few
Arnoldi steps, :func:`scipy.sparse.linalg.eigs` on the JVP operator). With
:math:`\operatorname{Re}\lambda_1 < 1` the equilibrium is stable under the best-response
dynamics :math:`\dot Z = \Phi(Z) - Z` (and damped Picard converges to it); at a fold
:math:`\lambda_1` crosses 1.

The branches start from every distinct equilibrium that multi-start
(:func:`gelav.mfg.find_equilibria`) finds at the two ends of the parameter range; a start that
lies on a branch already traced is not traced again.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.errors import AccuracyWarning, ConvergenceError
from gelav.mfg.engine import NEGATIVE_MASS_TOLERANCE, lowest_relative_mass
from gelav.mfg.model import LPType, Market, MFGModel, Numerics, check_model

__all__ = ["SCALARS", "Branch", "Branches", "Fold", "continuation", "set_parameter"]

Array = NDArray[np.float64]

#: inner Newton tolerance of every evaluation of Φ (finite-difference products need a smooth map)
_INNER_TOL = 1e-10


# -- the parameter ---------------------------------------------------------------------------
class ParameterValueError(ValueError):
    """A bad-input error raised while solving at one value of the continuation parameter (e.g. a
    user coupling returning non-finite prices there); the message says which value."""

    def __init__(self, parameter: str, value: float, cause: BaseException) -> None:
        self.parameter, self.value, self.cause = parameter, value, cause
        super().__init__(f"at `{parameter}` = {value:g}: {cause}")


def set_parameter(model: MFGModel, parameter: str | Callable[[MFGModel, float], MFGModel], value: float) -> MFGModel:
    """The model with ``parameter`` set to ``value``.

    ``parameter`` is a field of :class:`LPType` (``"feedback"``: every type; ``"pension.feedback"``:
    the type named ``pension``), a field of :class:`Market` (``"flow_impact"``), an attribute of a
    user coupling (``"coupling.thin_discount"`` or just ``"thin_discount"``), or a callable
    ``(model, value) -> model``.
    """
    value = float(value)
    if callable(parameter):
        out = parameter(model, value)
        if not isinstance(out, MFGModel):
            raise TypeError(f"`parameter` (a callable) must return an MFGModel, got {type(out).__name__}.")
        return out
    if not isinstance(parameter, str) or not parameter:
        raise TypeError(f"`parameter` must be a name or a callable (model, value) -> model, got {parameter!r}.")
    head, _, tail = parameter.rpartition(".")
    names = [t.name for t in model.types]
    lp_fields = set(LPType.__dataclass_fields__) - {"name", "initial"}
    mk_fields = set(Market.__dataclass_fields__) - {"coupling", "buyers", "tax"}
    coupling = model.market.coupling
    if head in ("", *names) and tail in lp_fields:
        change: dict[str, Any] = {tail: value}
        types = tuple(replace(t, **change) if head in ("", t.name) else t for t in model.types)
        return replace(model, types=types)
    if head in ("", "market") and tail in mk_fields:
        mchange: dict[str, Any] = {tail: value}
        return replace(model, market=replace(model.market, **mchange))
    if head in ("", "coupling") and coupling is not None and isinstance(getattr(coupling, tail, None), (int, float)):
        c = copy.copy(coupling)
        setattr(c, tail, value)
        return replace(model, market=replace(model.market, coupling=c))
    known = sorted(lp_fields) + [f"<type>.{f}" for f in ("feedback", "herding")] + sorted(mk_fields)
    if coupling is not None:
        known += [f"coupling.{k}" for k, v in sorted(vars(coupling).items()) if isinstance(v, (int, float))]
    raise ValueError(f"Unknown `parameter` {parameter!r}; use one of {', '.join(known)} "
                     f"(types: {', '.join(names)}), or a callable (model, value) -> model.")


# -- what is recorded along a branch ------------------------------------------------------------
def _total_exits(pb: Any, bw: Any, fw: Any) -> float:
    return float(pb.weights @ fw.exits.sum(axis=0))


def _discount_now(pb: Any, bw: Any, fw: Any) -> float:
    return float(1.0 - bw.market[0, 0] / pb.model.market.nav)


def _worst_discount(pb: Any, bw: Any, fw: Any) -> float:
    return float(np.max(1.0 - bw.market[0] / pb.model.market.nav))


def _peak_distressed(pb: Any, bw: Any, fw: Any) -> float:
    return float(np.max(fw.Z[0]))


#: scalars recorded at every point of a branch (name -> (description, function of problem, best response,
#: population))
SCALARS: dict[str, tuple[str, Callable[[Any, Any, Any], float]]] = {
    "exits": ("total exits [share of holders]", _total_exits),
    "discount": ("discount to NAV now (first type)", _discount_now),
    "worst_discount": ("worst discount to NAV (first type)", _worst_discount),
    "distressed": ("peak distressed mass", _peak_distressed),
}


@dataclass(frozen=True)
class Fold:
    """A fold (saddle-node) on a branch: the parameter turns back there and two equilibria meet."""

    branch: int
    parameter: float
    scalars: dict[str, float]
    index: int  # the fold lies between points ``index`` and ``index + 1`` of the branch

    def to_dict(self) -> dict[str, Any]:
        return {"branch": self.branch, "parameter": self.parameter, **self.scalars, "between_points": self.index}


@dataclass(frozen=True, eq=False)
class Branch:
    """One branch: points along arclength (parameter, aggregate path, scalars, stability).

    Attributes
    ----------
    parameter : ndarray (P,)
    paths : ndarray (P, 4, M)
        The equilibrium aggregate paths :math:`Z`.
    scalars : dict name -> ndarray (P,)
        The quantities of :data:`SCALARS` at every point.
    tangent_p : ndarray (P,)
        The parameter component :math:`\\tau_p` of the unit tangent (sign changes at folds).
    eigenvalue : ndarray (P,) complex
        Eigenvalue of :math:`D\\Phi` of largest real part (NaN when stability was not computed).
    stable : ndarray (P,) bool
        :math:`\\operatorname{Re}\\lambda_1 < 1`.
    residual : ndarray (P,)
        :math:`\\|G(x, p)\\|_\\infty` at every point.
    start : str
        Where the branch started (``"p = 0 (calm)"``).
    """

    parameter: Array
    paths: Array
    scalars: dict[str, Array]
    tangent_p: Array
    eigenvalue: NDArray[np.complex128]
    residual: Array
    start: str

    @property
    def stable(self) -> NDArray[np.bool_]:
        """:math:`\\operatorname{Re}\\lambda_1 < 1` at every point (False where not computed: see ``known``)."""
        return np.asarray(self.eigenvalue.real < 1.0)

    @property
    def known(self) -> NDArray[np.bool_]:
        """Where the stability was computed (``stability=True`` and ARPACK converged)."""
        return np.asarray(np.isfinite(self.eigenvalue.real))

    def __len__(self) -> int:
        return int(self.parameter.size)


@dataclass(frozen=True, eq=False)
class Branches:
    """The result of :func:`continuation`: the branches, their folds, and how to get full equilibria.

    Attributes
    ----------
    parameter_name : str
    range : (float, float)
    branches : tuple of Branch
    folds : tuple of Fold
    history : list of dict
        One record per corrector step (branch, step, arclength step, Newton iterations, residual).
    diagnostics : dict
        ``evaluations`` of Φ, ``tangent_products`` (products :math:`D\\Phi\\,v` by the exact tangent),
        ``jacobian``, ``seconds``, ``notes``, ...
    """

    parameter_name: str
    range: tuple[float, float]
    branches: tuple[Branch, ...]
    folds: tuple[Fold, ...]
    history: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    _family: Any = None

    def equilibria_at(self, value: float) -> list[Any]:
        """Every equilibrium on the branches at parameter ``value`` (full :class:`~gelav.mfg.Equilibrium`
        objects, by Newton from the interpolated crossings and one :func:`~gelav.mfg.solve` check each)."""
        from gelav.mfg.solver import solve

        fam = self._family
        out = []
        for x in self.paths_at(value):
            eq = solve(fam.model_at(value), numerics=fam.numerics, grid=fam.grid, time_grid=fam.tg,
                       initial_guess=x.reshape(fam.shape), method="anderson", tol=fam.tol, no_feedback=False)
            out.append(eq)
        return out

    def paths_at(self, value: float) -> list[Array]:
        """The distinct equilibrium paths on the branches at parameter ``value`` (Newton-corrected)."""
        value = float(value)
        lo, hi = self.range
        if not (lo - 1e-12 <= value <= hi + 1e-12):
            raise ValueError(f"`value` = {value:g} lies outside the continuation range [{lo:g}, {hi:g}].")
        fam = self._family
        found: list[Array] = []
        for br in self.branches:
            for x0 in _crossings(br, value):
                x = fam.newton(x0, value)
                if x is None:  # outside Newton's basin: the fixed-point solver from the interpolated path
                    x = fam.solve(x0, value)
                if x is not None and all(np.max(np.abs(x - y)) > fam.same for y in found):
                    found.append(x)
        return found

    def summary(self) -> dict[str, Any]:
        """Per branch its range, points, folds and stable share; the folds."""
        rows = []
        for i, br in enumerate(self.branches):
            rows.append({"branch": i, "start": br.start, "points": len(br),
                         "parameter_min": float(br.parameter.min()), "parameter_max": float(br.parameter.max()),
                         "stable_points": int(br.stable.sum()) if br.known.all() else None,
                         "exits_min": float(br.scalars["exits"].min()),
                         "exits_max": float(br.scalars["exits"].max())})
        return {"parameter": self.parameter_name, "range": list(self.range), "branches": rows,
                "folds": [f.to_dict() for f in self.folds]}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: the summary and every point of every branch."""
        out = self.summary()
        for row, br in zip(out["branches"], self.branches, strict=True):
            row["parameter_values"] = br.parameter
            row.update({k: v for k, v in br.scalars.items()})
            row["eigenvalue_real"] = br.eigenvalue.real
            row["eigenvalue_imag"] = br.eigenvalue.imag
            row["stable"] = [bool(v) if k else None for v, k in zip(br.stable, br.known, strict=True)]
            row["residual"] = br.residual
        out["diagnostics"] = self.diagnostics
        return out

    def table(self) -> dict[str, Array]:
        """Every point as columns of equal length (for ``--export``)."""
        cols: dict[str, list[Any]] = {"branch": [], "parameter": [], **{k: [] for k in SCALARS},
                                      "eigenvalue_real": [], "stable": [], "residual": []}
        for i, br in enumerate(self.branches):
            cols["branch"] += [i] * len(br)
            cols["parameter"] += br.parameter.tolist()
            for k in SCALARS:
                cols[k] += br.scalars[k].tolist()
            cols["eigenvalue_real"] += br.eigenvalue.real.tolist()
            cols["stable"] += np.where(br.known, br.stable.astype(float), np.nan).tolist()
            cols["residual"] += br.residual.tolist()
        return {k: np.asarray(v, dtype=float) for k, v in cols.items()}

    def plot(self, scalar: str = "exits", *, ax: Any = None) -> Any:
        """The bifurcation diagram: ``scalar`` (see :data:`SCALARS`) against the parameter, stable parts
        solid, unstable parts dashed, folds marked."""
        if scalar not in SCALARS:
            raise ValueError(f"Unknown `scalar` {scalar!r}; use one of {', '.join(SCALARS)}.")
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        colors = ["C0", "C1", "C2", "C3", "C4", "C5"]
        for i, br in enumerate(self.branches):
            c = colors[i % len(colors)]
            p, y, st = br.parameter, br.scalars[scalar], br.stable
            known = np.isfinite(br.eigenvalue.real)
            for j in range(len(br) - 1):
                solid = (st[j] and st[j + 1]) or not (known[j] and known[j + 1])
                ax.plot(p[j:j + 2], y[j:j + 2], color=c, ls="-" if solid else "--",
                        label=f"branch {i} ({br.start})" if j == 0 else None)
            if len(br) == 1:
                ax.plot(p, y, "o", color=c, label=f"branch {i} ({br.start})")
        if self.folds:
            ax.plot([f.parameter for f in self.folds], [f.scalars[scalar] for f in self.folds], "kx", ms=9,
                    label="fold")
        ax.set_xlabel(self.parameter_name)
        ax.set_ylabel(SCALARS[scalar][0])
        ax.set_title("Equilibrium branches (solid: stable, dashed: unstable)")
        ax.legend(fontsize="small")
        return fig


def _crossings(br: Branch, value: float) -> list[Array]:
    """Linear interpolation of the branch's paths wherever its parameter passes ``value``."""
    p = br.parameter
    out = []
    for j in range(len(br)):
        if p[j] == value and (j == 0 or p[j - 1] != value):
            out.append(br.paths[j].ravel())
        elif j + 1 < len(br) and (p[j] - value) * (p[j + 1] - value) < 0:
            w = (value - p[j]) / (p[j + 1] - p[j])
            out.append(((1 - w) * br.paths[j] + w * br.paths[j + 1]).ravel())
    return out


# -- the fixed-point map as a function of (x, p) ---------------------------------------------------
class _Family:
    """Φ(x; p) on one grid, with finite-difference Jacobian–vector products and Newton–Krylov."""

    def __init__(self, model: MFGModel, parameter: Any, numerics: Numerics, tol: float, max_evaluations: int,
                 grid: Any, tg: Any, jacobian: str = "tangent") -> None:
        self.base, self.parameter, self.numerics, self.tol = model, parameter, numerics, tol
        self.name = parameter if isinstance(parameter, str) else getattr(parameter, "__name__", "parameter")
        self.grid, self.tg = grid, tg
        self.eps, self.delta = numerics.epsilon, numerics.delta
        self._problems: dict[float, Any] = {}
        self.n_eval = 0
        #: DΦ products: "tangent" (the exact tangent at the latest evaluations, no evaluation of Φ
        #: each) or "fd" (a forward difference, one evaluation each); "fd" where there is no tangent
        self.jacobian = jacobian if numerics.control == "newton" else "fd"
        self.n_products = 0
        #: the lowest holder mass relative to its time level at the accepted points, and where
        self.lowest_mass: tuple[float, float] = (0.0, math.nan)
        self._evaluated: dict[tuple[float, bytes], tuple[Any, Any]] = {}
        self._tangents: dict[tuple[float, bytes], Any] = {}
        self.max_evaluations = max_evaluations
        self.history: list[dict[str, Any]] = []
        pb = self.problem(None)
        self.shape = pb.zero_path().shape
        self.n = int(np.prod(self.shape))
        self.same = 1e3 * tol + 1e-6  # two paths closer than this are one equilibrium (as in solve)

    def model_at(self, p: float | None) -> MFGModel:
        return self.base if p is None else set_parameter(self.base, self.parameter, p)

    def admissible(self, p: float) -> bool:
        """Whether the model exists at ``p`` (a predictor may step past a range end that is also the
        parameter's bound, e.g. a feedback of 0)."""
        try:
            self.model_at(p)
        except ValueError:
            return False
        return True

    def problem(self, p: float | None) -> Any:
        from gelav.mfg.engine import Problem

        key = math.nan if p is None else float(p)
        pb = self._problems.get(key) if p is not None else None
        if pb is None:
            pb = Problem(self.model_at(p), self.numerics, grid=self.grid, time_grid=self.tg)
            if p is not None:
                if len(self._problems) > 8:
                    self._problems.pop(next(iter(self._problems)))
                self._problems[key] = pb
        return pb

    def phi(self, x: Array, p: float) -> tuple[Array, Any, Any]:
        if self.n_eval >= self.max_evaluations:
            raise ConvergenceError(f"continuation: the budget of {self.max_evaluations} evaluations of Φ is spent "
                                   "(raise `max_evaluations`, or narrow the range).", self.history)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError("non-finite aggregate path")
        self.n_eval += 1
        try:
            pb = self.problem(p)
            Zn, bw, fw = pb.phi(x.reshape(self.shape), self.eps, self.delta, newton_tol=_INNER_TOL)
        except ValueError as exc:  # e.g. a user coupling's non-finite prices: say at which parameter value
            raise ParameterValueError(self.name, float(p), exc) from exc
        if self.jacobian == "tangent":  # the latest evaluations, to linearise at (x, p) without another one
            if len(self._evaluated) >= 4:
                self._evaluated.pop(next(iter(self._evaluated)))
            self._evaluated[(float(p), x.tobytes())] = (bw, fw)
        return Zn.ravel(), bw, fw

    def G(self, x: Array, p: float) -> Array:
        return x - self.phi(x, p)[0]

    def _h(self, x: Array, v: Array) -> float:
        nv = float(np.max(np.abs(v)))
        return 0.0 if nv == 0 else 1e-6 * max(1.0, float(np.max(np.abs(x)))) / nv

    def jvp_phi(self, x: Array, p: float, phix: Array, v: Array) -> Array:
        """:math:`D\\Phi(x)\\,v`: the exact tangent at an evaluation of Φ at ``(x, p)`` (a linear backward
        and forward sweep, :class:`gelav.mfg.tangent.Tangent`), or a forward difference (one evaluation)."""
        key = (float(p), x.tobytes())
        tan = self._tangents.get(key) if self.jacobian == "tangent" else None
        if tan is None and key in self._evaluated:
            from gelav.mfg.tangent import Tangent

            bw, fw = self._evaluated[key]
            tan = Tangent.at(self.problem(p), x.reshape(self.shape), bw, fw, self.eps, self.delta)
            if len(self._tangents) >= 2:
                self._tangents.pop(next(iter(self._tangents)))
            self._tangents[key] = tan
        if tan is not None:
            self.n_products += 1
            return tan.jvp(v.reshape(*self.shape, 1))[..., 0].ravel()  # type: ignore[no-any-return]
        h = self._h(x, v)
        if h == 0:
            return np.zeros_like(v)
        return (self.phi(x + h * v, p)[0] - phix) / h

    def dG_dp(self, x: Array, p: float, gx: Array) -> Array:
        h = 1e-6 * max(1.0, abs(p))
        if not self.admissible(p + h):  # at an upper bound of the parameter: difference backwards
            h = -h
        return (self.G(x, p + h) - gx) / h

    def scalars(self, x: Array, p: float) -> tuple[dict[str, float], float]:
        phix, bw, fw = self.phi(x, p)
        pb = self.problem(p)
        low = lowest_relative_mass(fw.P)[0]
        if low < self.lowest_mass[0]:
            self.lowest_mass = (low, float(p))
        return {k: f(pb, bw, fw) for k, (_, f) in SCALARS.items()}, float(np.max(np.abs(x - phix)))

    def newton(self, x: Array, p: float, *, max_iter: int = 12) -> Array | None:
        """Newton–Krylov at fixed ``p`` (:math:`G_x\\,\\delta = -G`); None when it does not converge."""
        from scipy.sparse.linalg import LinearOperator, gmres

        for _ in range(max_iter):
            phix = self.phi(x, p)[0]
            g = x - phix
            if float(np.max(np.abs(g))) < self.tol:
                return x
            xx, ph = x, phix
            op = LinearOperator((self.n, self.n), matvec=lambda v, xx=xx, ph=ph: v - self.jvp_phi(xx, p, ph, v),
                                dtype=float)
            d, _ = gmres(op, -g, rtol=1e-3, atol=0.0, restart=40, maxiter=3)
            x = x + d
        return None

    def solve(self, x: Array, p: float) -> Array | None:
        """The fixed point at ``p`` by :func:`gelav.mfg.solve` from the path ``x`` (None: no convergence)."""
        from gelav.mfg.solver import solve

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AccuracyWarning)
                eq = solve(self.model_at(p), numerics=self.numerics, grid=self.grid, time_grid=self.tg,
                           initial_guess=x.reshape(self.shape), tol=self.tol, no_feedback=False)
        except ConvergenceError:
            return None
        return np.asarray(eq.path, dtype=float).ravel()

    def leading_eigenvalue(self, x: Array, p: float) -> complex:
        """The eigenvalue of :math:`D\\Phi(x)` of largest real part (Arnoldi, ARPACK)."""
        from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigs

        phix = self.phi(x, p)[0]
        v0 = np.ones(self.n) / math.sqrt(self.n)
        if float(np.max(np.abs(self.jvp_phi(x, p, phix, v0)))) < 1e-12:
            return complex(0.0, 0.0)  # Φ does not depend on the path here (a decoupled model)
        op = LinearOperator((self.n, self.n), matvec=lambda v: self.jvp_phi(x, p, phix, np.real(v)), dtype=float)
        try:
            vals = eigs(op, k=1, which="LR", ncv=min(self.n - 1, 12), tol=1e-4, maxiter=30,
                        return_eigenvectors=False, v0=v0)
        except ArpackNoConvergence as exc:
            vals = exc.eigenvalues
            if len(vals) == 0:
                return complex(math.nan, math.nan)
        except ArpackError:
            return complex(math.nan, math.nan)
        return complex(vals[np.argmax(vals.real)])


# -- pseudo-arclength ---------------------------------------------------------------------------------
@dataclass
class _Point:
    x: Array
    p: float
    tau: Array  # unit tangent (n + 1,), weighted norm


def _dot(fam: _Family, a: Array, b: Array) -> float:
    return float(a[:-1] @ b[:-1]) / fam.n + float(a[-1] * b[-1])


def _normalise(fam: _Family, t: Array) -> Array:
    return t / math.sqrt(_dot(fam, t, t))


def _tangent(fam: _Family, x: Array, p: float, prev: Array | None, direction: float) -> Array:
    """The unit tangent of the branch at (x, p), oriented along ``prev`` (or towards ``direction`` in p)."""
    from scipy.sparse.linalg import LinearOperator, gmres

    phix = fam.phi(x, p)[0]
    gx = x - phix
    gp = fam.dG_dp(x, p, gx)
    n = fam.n
    if prev is None:  # G_x v = -G_p, tau = (v, 1)
        op = LinearOperator((n, n), matvec=lambda v: v - fam.jvp_phi(x, p, phix, v), dtype=float)
        v, _ = gmres(op, -gp, rtol=1e-6, atol=0.0, restart=60, maxiter=3)
        t = _normalise(fam, np.append(v, 1.0))
        return t if t[-1] * direction > 0 else -t

    def mv(w: Array) -> Array:
        return np.append(w[:-1] - fam.jvp_phi(x, p, phix, w[:-1]) + gp * w[-1], _dot(fam, prev, w))

    op = LinearOperator((n + 1, n + 1), matvec=mv, dtype=float)
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    t, _ = gmres(op, rhs, x0=prev.copy(), rtol=1e-6, atol=0.0, restart=60, maxiter=3)
    return _normalise(fam, t)


def _correct(fam: _Family, u0: Array, tau: Array, max_newton: int) -> tuple[Array, int, float] | None:
    """Newton–Krylov on [G(u) = 0, <tau, u - u0> = 0] from the prediction ``u0``, with backtracking
    (a step is halved, up to four times, until the residual falls: the discrete map is only C¹ where
    the exit region starts)."""
    from scipy.sparse.linalg import LinearOperator, gmres

    n = fam.n
    u = u0.copy()
    x, p = u[:-1], float(u[-1])
    phix = fam.phi(x, p)[0]
    for it in range(1, max_newton + 1):
        g = x - phix
        res = float(np.max(np.abs(g)))
        arc = _dot(fam, tau, u - u0)
        if res < fam.tol and abs(arc) < 1e-6:
            return u, it - 1, res
        if not math.isfinite(res) or res > 1e3:
            return None
        gp = fam.dG_dp(x, p, g)

        def mv(w: Array, x: Array = x, p: float = p, phix: Array = phix, gp: Array = gp) -> Array:
            return np.append(w[:-1] - fam.jvp_phi(x, p, phix, w[:-1]) + gp * w[-1], _dot(fam, tau, w))

        op = LinearOperator((n + 1, n + 1), matvec=mv, dtype=float)
        d, _ = gmres(op, -np.append(g, arc), rtol=1e-4, atol=0.0, restart=40, maxiter=3)
        lam = 1.0
        for _ in range(5):
            un = u + lam * d
            xn, pn = un[:-1], float(un[-1])
            if not fam.admissible(pn):  # Newton stepped out of the parameter's range: shorter
                lam *= 0.5
                continue
            phin = fam.phi(xn, pn)[0]
            if float(np.max(np.abs(xn - phin))) < max(res, fam.tol) or lam < 0.1:
                break
            lam *= 0.5
        else:
            if not fam.admissible(pn):
                return None
        u, x, p, phix = un, xn, pn, phin
    res = float(np.max(np.abs(x - phix)))
    return (u, max_newton, res) if res < fam.tol else None


def _trace(fam: _Family, x0: Array, p0: float, direction: float, lo: float, hi: float, *, step: float,
           min_step: float, max_step: float, max_points: int, max_newton: int, stability: bool,
           index: int, start: str) -> tuple[Branch, list[str]]:
    notes: list[str] = []
    tau = _tangent(fam, x0, p0, None, direction)
    pts = [_Point(x0, p0, tau)]
    ds = step
    while True:
        if len(pts) >= max_points:
            raise ConvergenceError(f"continuation: branch {index} ({start}) used its budget of {max_points} points "
                                   f"before leaving [{lo:g}, {hi:g}] (raise `max_points` or `step`).", fam.history)
        cur = pts[-1]
        u = np.append(cur.x, cur.p)
        while True:
            pred = u + ds * cur.tau
            if not (lo - 1e-12 <= pred[-1] <= hi + 1e-12 or fam.admissible(float(pred[-1]))):
                got = None  # past an end where the model stops existing: land on the end from the prediction
                break
            got = _correct(fam, pred, cur.tau, max_newton)
            ok = got is not None and math.sqrt(_dot(fam, got[0] - pred, got[0] - pred)) < 0.5 * ds + 1e-12
            fam.history.append({"branch": index, "point": len(pts), "step": ds, "accepted": bool(ok),
                                "newton": None if got is None else got[1],
                                "residual": None if got is None else got[2], "evaluations": fam.n_eval})
            if ok:
                break
            ds *= 0.5
            if ds < min_step:
                raise ConvergenceError(f"continuation: branch {index} ({start}) cannot go on from {fam_name(fam)} = "
                                       f"{cur.p:.6g}: the corrector fails down to the step {min_step:g}. The map "
                                       "is steepest where an exit region is born: try a larger `epsilon` (the "
                                       "relaxation, e.g. 0.05) or a smaller `min_step`.",
                                       fam.history)
        un, its = (pred, 0) if got is None else got[:2]
        xn, pn = un[:-1], float(un[-1])
        if not lo - 1e-12 <= pn <= hi + 1e-12:  # left the range: land on its end by Newton at fixed p
            edge = hi if pn > hi else lo
            w = (edge - cur.p) / (pn - cur.p)
            xe = fam.newton((1 - w) * cur.x + w * xn, edge)
            if xe is None:
                notes.append(f"branch {index}: no landing on {edge:g}")
            else:
                pts.append(_Point(xe, edge, _tangent(fam, xe, edge, cur.tau, 0.0)))
            break
        pts.append(_Point(xn, pn, _tangent(fam, xn, pn, cur.tau, 0.0)))
        ds = min(max_step, ds * 1.5) if its <= 3 else (max(min_step, ds * 0.7) if its > 5 else ds)
    P = len(pts)
    sc: dict[str, list[float]] = {k: [] for k in SCALARS}
    resid, eig = [], []
    for pt in pts:
        s, r = fam.scalars(pt.x, pt.p)
        for k in SCALARS:
            sc[k].append(s[k])
        resid.append(r)
        eig.append(fam.leading_eigenvalue(pt.x, pt.p) if stability else complex(math.nan, 0.0))
    br = Branch(np.array([pt.p for pt in pts]), np.stack([pt.x.reshape(fam.shape) for pt in pts]),
                {k: np.array(v) for k, v in sc.items()}, np.array([pt.tau[-1] for pt in pts]),
                np.array(eig, dtype=complex), np.array(resid), start)
    assert len(br) == P
    return br, notes


def fam_name(fam: _Family) -> str:
    return fam.parameter if isinstance(fam.parameter, str) else "the parameter"


def _folds(br: Branch, index: int, n: int) -> list[Fold]:
    r"""Sign changes of the tangent's parameter component; the turning point from a quadratic in arclength.

    With :math:`dp/ds = \tau_p` linear in :math:`s` between the two points (distance
    :math:`\Delta s = \sqrt{\|\delta x\|^2/n + \delta p^2}`), :math:`\tau_p` vanishes at
    :math:`s^* = w\,\Delta s`, :math:`w = \tau_{p,j}/(\tau_{p,j} - \tau_{p,j+1})`, and
    :math:`p_{fold} = p_j + \tfrac12\tau_{p,j}\,w\,\Delta s` (exact for a parabola :math:`p(s)`).
    """
    out = []
    t = br.tangent_p
    for j in range(len(br) - 1):
        if t[j] * t[j + 1] < 0:
            w = t[j] / (t[j] - t[j + 1])  # where tau_p vanishes, linearly in arclength
            dx = (br.paths[j + 1] - br.paths[j]).ravel()
            ds = math.sqrt(float(dx @ dx) / n + float(br.parameter[j + 1] - br.parameter[j]) ** 2)
            p_fold = float(br.parameter[j] + 0.5 * t[j] * w * ds)
            lo, hi = sorted((float(br.parameter[j]), float(br.parameter[j + 1])))
            # the turning point lies beyond both points: p rises to a maximum (tau_p > 0 before) or falls to a
            # minimum (the interpolation between the two points used to be replaced by the nearer one)
            p_fold = max(p_fold, hi) if t[j] > 0 else min(p_fold, lo)
            scal = {k: float(v[j] + w * (v[j + 1] - v[j])) for k, v in br.scalars.items()}
            out.append(Fold(index, p_fold, scal, j))
    return out


def _on_branches(fam: _Family, branches: Sequence[Branch], x: Array, p: float) -> bool:
    for br in branches:
        for x0 in _crossings(br, p):
            y = fam.newton(x0, p)
            if y is not None and np.max(np.abs(y - x)) < fam.same:
                return True
    return False


def continuation(model: MFGModel, parameter: str | Callable[[MFGModel, float], MFGModel],
                 values: Sequence[float], *, numerics: Numerics | None = None, tol: float = 1e-8,
                 step: float | None = None, min_step: float | None = None, max_step: float | None = None,
                 max_points: int = 200, max_newton: int = 8, max_evaluations: int = 100_000,
                 stability: bool = True, jacobian: str = "tangent") -> Branches:
    r"""Follow the equilibria of ``model`` as ``parameter`` runs over ``values`` (pseudo-arclength).

    Parameters
    ----------
    model : MFGModel
    parameter : str or callable
        What changes: a field of the LP types (``"feedback"``, ``"pension.feedback"``), of the market
        (``"flow_impact"``), of a user coupling (``"coupling.thin_discount"``), or a callable
        ``(model, value) -> model`` (see :func:`set_parameter`).
    values : sequence of float
        The range: its first and last entries are the ends; with more entries the first step is
        their spacing.
    numerics : Numerics, optional
        The grid (fixed over the range: the domain of the model at ``values[0]``) and relaxation.
    tol : float
        :math:`\|G(x, p)\|_\infty` at every accepted point. Default 1e-8.
    step, min_step, max_step : float, optional
        Arclength steps (norm :math:`\sqrt{\|\delta x\|^2/n + \delta p^2}`): default a twentieth,
        a ten-thousandth and a fifth of the range.
    max_points, max_newton, max_evaluations : int
        Budget: points per branch, Newton steps per correction, evaluations of :math:`\Phi` in all.
    stability : bool
        Compute the leading eigenvalue of :math:`D\Phi` at every point (about twenty products each).
    jacobian : {"tangent", "fd"}
        The products :math:`D\Phi\,v` of the corrector, the tangent and the eigenvalue: the exact
        tangent of the discrete map at the latest evaluation of :math:`\Phi`
        (:class:`gelav.mfg.tangent.Tangent`: one linear backward and one linear forward sweep, no
        evaluation of :math:`\Phi`), or a forward difference of :math:`\Phi` (one evaluation each;
        always with ``control="lagged"``, which has no tangent). :math:`G_p` is a forward
        difference either way.

    Returns
    -------
    Branches

    Raises
    ------
    ConvergenceError
        A corrector that fails down to ``min_step``, or a budget spent (``.history``: every corrector step).
    ValueError, TypeError
        A bad parameter name, range or option.

    Examples
    --------
    >>> from gelav.mfg import SCENARIOS, Numerics, continuation
    >>> br = continuation(SCENARIOS["fire-sale"].model, "feedback", [0.0, 0.5],
    ...                   numerics=Numerics(n_cells=30, n_steps=30), stability=False)
    >>> len(br.branches), len(br.folds)
    (1, 0)
    """
    from gelav._validation import check_int, check_positive
    from gelav.mfg.engine import Problem
    from gelav.mfg.solver import find_equilibria

    t0 = time.perf_counter()
    model, numerics = check_model(model, numerics)
    try:
        vals = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"`values` must be numbers, got {values!r}.") from None
    if vals.size < 2 or not np.all(np.isfinite(vals)) or vals[0] == vals[-1]:
        shown = vals.tolist() if vals.size <= 6 else f"{vals.size} values from {vals[0]:g} to {vals[-1]:g}"
        raise ValueError(f"`values` must be at least two finite numbers with different ends, got {shown}.")
    tol = check_positive("tol", tol)
    if jacobian not in ("tangent", "fd"):
        raise ValueError(f"Unknown `jacobian` {jacobian!r}; use 'tangent' or 'fd'.")
    max_points = check_int("max_points", max_points, minimum=2)
    max_newton = check_int("max_newton", max_newton, minimum=1)
    max_evaluations = check_int("max_evaluations", max_evaluations, minimum=10)
    a, b = float(vals[0]), float(vals[-1])
    lo, hi = min(a, b), max(a, b)
    width = hi - lo
    step = check_positive("step", step) if step is not None else (
        abs(float(vals[1] - vals[0])) if vals.size > 2 else width / 20)
    min_step = check_positive("min_step", min_step) if min_step is not None else width * 1e-4
    max_step = check_positive("max_step", max_step) if max_step is not None else width / 5
    m_a, m_b = set_parameter(model, parameter, a), set_parameter(model, parameter, b)  # errors name the parameter
    pb = Problem(m_a, numerics)
    fam = _Family(model, parameter, numerics, tol, max_evaluations, pb.grid, pb.tg, jacobian)
    name = parameter if isinstance(parameter, str) else getattr(parameter, "__name__", "parameter")

    starts: list[tuple[Array, float, float, str]] = []
    notes: list[str] = []
    for val, mdl, direction in ((a, m_a, 1.0 if b > a else -1.0), (b, m_b, 1.0 if a > b else -1.0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccuracyWarning)
            try:
                eqs = find_equilibria(mdl, numerics=numerics, grid=fam.grid, time_grid=fam.tg, no_feedback=False,
                                      tol=tol)
            except ParameterValueError:
                raise
            except ValueError as exc:
                raise ParameterValueError(name, float(val), exc) from exc
        seen: list[Array] = []
        for eq in eqs:
            x = eq.path.ravel() if eq.path.size == fam.n else None
            if x is None:
                continue
            if eq.diagnostics.get("positivity"):
                # solve took some steps as backward Euler; the branch keeps the grid's steps, so its
                # start is the fixed point of that map, found by Newton from the re-stepped one
                x = fam.newton(x, val)
                if x is None:
                    note = (f"no start at {name} = {val:g} from an equilibrium found on re-stepped times: no fixed "
                            "point on the grid's steps near it")
                    notes += [] if note in notes else [note]
                    continue
            if all(np.max(np.abs(x - y)) > fam.same for y in seen):
                seen.append(x)
                how = eq.diagnostics.get("start", "")
                starts.append((x, val, direction, f"{name} = {val:g}" + (f", {how} start" if how not in ("", "given")
                                                                          else "")))
    branches: list[Branch] = []
    for x, val, direction, label in starts:
        if _on_branches(fam, branches, x, val):
            continue
        br, nn = _trace(fam, x, val, direction, lo, hi, step=step, min_step=min_step, max_step=max_step,
                        max_points=max_points, max_newton=max_newton, stability=stability, index=len(branches),
                        start=label)
        branches.append(br)
        notes += nn
    folds = tuple(f for i, br in enumerate(branches) for f in _folds(br, i, fam.n))
    diag = {"evaluations": fam.n_eval, "tangent_products": fam.n_products, "jacobian": fam.jacobian,
            "seconds": time.perf_counter() - t0, "notes": notes,
            "starts": [s[3] for s in starts], "n_cells": numerics.n_cells, "n_steps": int(fam.tg.n_steps),
            "epsilon": numerics.epsilon, "tol": tol}
    low, at = fam.lowest_mass
    if low < -NEGATIVE_MASS_TOLERANCE:
        # the branch's own fixed point keeps the grid's θ (its paths must stay comparable along the
        # branch); full equilibria from Branches.at() are re-stepped by mfg.solve
        diag["negative_masses"] = {"lowest_relative": low, "at": at}
        warnings.warn(f"Branch points carry negative holder masses (down to {low:.3g} of their time level, at "
                      f"{name} = {at:g}): Crank-Nicolson steps too coarse for the exit intensity; use more "
                      f"`n_steps` or Numerics(scheme='euler').", AccuracyWarning, stacklevel=2)
    return Branches(str(name), (lo, hi), tuple(branches), folds, fam.history, diag, fam)
