"""The Itô task: Itô's lemma, generator, Fokker–Planck, backward and Feynman–Kac equations of a typed SDE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gelav.tasks._base import (
    ScenarioLike,
    TaskResult,
    check_options,
    merge,
    read_scenario,
    source_of,
)

__all__ = ["FIELDS", "ItoReport", "ito", "read_ito_table", "resolve"]

FIELDS = ("drift", "diffusion", "transform", "rate", "source")
TITLES = {"process": "SDE", "ito_lemma": "Itô's lemma", "transformed_process": "Transformed process (in y = G)",
          "generator": "Generator", "fokker_planck": "Fokker–Planck equation",
          "backward": "Kolmogorov backward equation", "feynman_kac": "Feynman–Kac equation"}


def read_ito_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[ito]`` table: expressions (strings) in t and x."""
    from gelav.scenario import ScenarioError, Section

    src = source_of(scenario)
    sec = Section(scenario.get("ito"), "ito", source=src)
    out: dict[str, Any] = {}
    for key in FIELDS:
        v = sec.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            raise ScenarioError(f"{src}: [ito] field `{key}` = {v!r}: expected an expression as a string.")
        out[key] = v
    sec.check_unknown(FIELDS)
    return out


def resolve(scenario: ScenarioLike = None, **options: Any) -> tuple[Any, ...]:
    """``(drift, diffusion, transform, rate, source)``: defaults < the ``[ito]`` table < the options."""
    from gelav.scenario import ScenarioError

    sc = read_scenario(scenario)
    s = merge("ito", read_ito_table(sc), options)
    for key in ("drift", "diffusion"):
        if s.get(key) is None:
            where = f"{source_of(sc)}: [ito] is missing the field `{key}`" if sc else f"`{key}` is missing"
            raise ScenarioError(f"{where}: give --{key} (an expression in t and x) or a --config file whose "
                                f"[ito] table has `{key}`.")
    return tuple(s.get(k) for k in FIELDS)


@dataclass(frozen=True)
class ItoReport(TaskResult):
    """The equations, by name (``equations``: name -> ``{"text", "latex", ...}``)."""

    equations: Any = None
    parameters: tuple[str, ...] = ()

    name = "ito"

    def to_dict(self) -> dict[str, Any]:
        return {**self.equations, "parameters": list(self.parameters)}

    def texts(self) -> dict[str, str]:
        """Title -> the equation as plain text."""
        return {TITLES[k]: _text(k, v) for k, v in self.equations.items()}


def _text(key: str, v: Mapping[str, Any]) -> str:
    if "text" in v:
        return str(v["text"])
    if "error" in v:
        return f"(none: {v['error']})"
    if "lhs" in v:
        return f"{v['lhs']} = {v['rhs']}"
    lhs = f"d({v['G']})" if "G" in v else f"d{str(v.get('x', 'x')).upper()}"
    return f"{lhs} = ({v['drift']}) dt + ({v['diffusion']}) dW"


def ito(scenario: ScenarioLike = None, **options: Any) -> ItoReport:
    """Itô calculus for dX = drift dt + diffusion dW from a scenario's ``[ito]`` table and options."""
    from gelav.symbolic import ItoProcess, parse_expression

    check_options("ito", options, FIELDS)
    s = dict(zip(FIELDS, resolve(scenario, **options), strict=False))
    b, sig = parse_expression(s["drift"], name="drift"), parse_expression(s["diffusion"], name="diffusion")
    r, f = parse_expression(s["rate"], name="rate"), parse_expression(s["source"], name="source")
    proc = ItoProcess(b, sig)
    import sympy as sp

    def entry(obj: Any) -> dict[str, Any]:
        return obj.to_dict() if hasattr(obj, "to_dict") else {"text": str(obj), "latex": obj.latex()}

    eqs: dict[str, Any] = {"process": entry(proc)}
    if s["transform"] is not None:
        lemma = proc.ito_lemma(parse_expression(s["transform"], name="transform"))
        eqs["ito_lemma"] = entry(lemma)
        try:
            eqs["transformed_process"] = entry(lemma.in_terms_of())
        except (ValueError, NotImplementedError) as exc:
            eqs["transformed_process"] = {"error": str(exc)}
    u = sp.Function("u")(proc.t, proc.x)
    gen = proc.generator(u)
    eqs["generator"] = {"text": f"L u = {sp.sstr(gen)}", "expression": sp.sstr(gen),
                        "latex": rf"\mathcal{{L}}{sp.latex(u)} = {sp.latex(gen)}"}
    eqs["fokker_planck"] = entry(proc.fokker_planck_equation())
    eqs["backward"] = entry(proc.backward_equation())
    eqs["feynman_kac"] = entry(proc.feynman_kac_equation(r, f))
    params = tuple(p.name for p in sorted(
        (b.free_symbols | sig.free_symbols | r.free_symbols | f.free_symbols) - {proc.t, proc.x}, key=str))
    return ItoReport(inputs=s, equations=eqs, parameters=params)
