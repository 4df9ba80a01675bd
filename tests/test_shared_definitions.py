"""The contract of classes and functions that share one definition (a base, a helper, a table) where
there were copies: field order and defaults, signatures and roles are those from before the sharing."""

from __future__ import annotations

import dataclasses
import doctest
import inspect

import pytest

from gelav import tasks

#: the fields of every fit, in positional order (OUFit has its three estimates where the others have ``estimates``)
FIT_RECORD = ['stderr', 'conf_int', 'cov', 'level', 'loglik', 'times', 'values', 'dates', 'residuals', 'goodness_of_fit', 'notes', 'diagnostics', 'source']

#: report -> ((field, default), ...), name, json, plotted
REPORTS = {'CalibrationReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('fit', 'None'),
                        ('series', 'None'), ('path', 'None'), ('comparison', 'None')],
                       'calibrate', None, 'fit'),
 'ContinuationReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('scenario', 'None'),
                         ('branches', 'None')],
                        'mfg_continuation', None, None),
 'ExitBoundaryReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('result', 'None'),
                         ('sensitivity', 'None'), ('check', 'None')],
                        'exit-boundary', None, 'result'),
 'ExitTimeReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('data', 'None'),
                     ('process', 'None')],
                    'exit_time', None, None),
 'FeynmanKacReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('data', 'None')], 'feynman_kac',
                      'data', None),
 'ItoReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('equations', 'None'),
                ('parameters', '()'), ('sections', '()'), ('assumptions', '()'), ('note', 'None')],
               'ito', None, None),
 'JensenReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('table', 'None'), ('result', 'None')],
                  'jensen', None, None),
 'LAVReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('result', 'None'), ('model', 'None')],
               'lav', None, 'result'),
 'MFGReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('scenario', 'None'),
                ('equilibrium', 'None'), ('at', '()'), ('summary', 'None'), ('densities', 'False'),
                ('check', 'None')],
               'mfg', None, None),
 'MasterFieldReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('scenario', 'None'),
                        ('field', 'None'), ('at', '()')],
                       'master_field', None, None),
 'McKeanVlasovReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('data', 'None'),
                         ('model', 'None'), ('particles', 'None'), ('pde', 'None'), ('chaos', 'None')],
                        'mckean_vlasov', 'data', None),
 'MetricsReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('cashflows', 'None'),
                    ('metrics', 'None'), ('premium', 'None')],
                   'metrics', None, 'cashflows'),
 'NPlayerReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('scenario', 'None'),
                    ('equilibrium', 'None'), ('result', 'None')],
                   'n_player', None, 'result'),
 'PortfolioReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('funds', '()'),
                      ('scenario', 'None'), ('premium', 'None'), ('stress', 'None'), ('distribution', 'None'),
                      ('equilibrium', 'None'), ('boundary', 'None')],
                     'portfolio', None, None),
 'PremiumReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('premium', 'None'), ('fit', 'None')],
                   'premium', None, None),
 'StressReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('result', 'None'), ('process', 'None'),
                   ('worked_example', 'None'), ('grid', 'None')],
                  'stress', None, None),
 'TrinomialReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('walk', 'None'), ('sample', 'None'),
                      ('summary', 'None')],
                     'trinomial', 'summary', 'sample'),
 'WelfareReport': ([('inputs', 'required'), ('diagnostics', 'factory'), ('scenario', 'None'),
                    ('planner', 'None'), ('welfare', 'None'), ('check', 'None')],
                   'welfare', None, None)}

#: the signatures of the public callables
SIGNATURES = {'gelav.calibrate._result.plot_fit': "(fit: 'Any', *, fig: 'Any' = None) -> 'Any'",
 'gelav.calibrate.cir.CIRFit': "(estimates: 'dict[str, float]', stderr: 'dict[str, float]', conf_int: "
                               "'dict[str, tuple[float, float]]', cov: 'NDArray[np.float64]', level: "
                               "'float', loglik: 'float', times: 'NDArray[np.float64]', values: "
                               "'NDArray[np.float64]', dates: 'NDArray[Any] | None', residuals: "
                               "'NDArray[np.float64]', goodness_of_fit: 'dict[str, dict[str, float]]', "
                               "notes: 'tuple[str, ...]' = (), diagnostics: 'dict[str, Any]' = <factory>, "
                               "source: 'dict[str, Any]' = <factory>) -> None",
 'gelav.calibrate.gbm.GBMFit': "(estimates: 'dict[str, float]', stderr: 'dict[str, float]', conf_int: "
                               "'dict[str, tuple[float, float]]', cov: 'NDArray[np.float64]', level: "
                               "'float', loglik: 'float', times: 'NDArray[np.float64]', values: "
                               "'NDArray[np.float64]', dates: 'NDArray[Any] | None', residuals: "
                               "'NDArray[np.float64]', goodness_of_fit: 'dict[str, dict[str, float]]', "
                               "notes: 'tuple[str, ...]' = (), diagnostics: 'dict[str, Any]' = <factory>, "
                               "source: 'dict[str, Any]' = <factory>) -> None",
 'gelav.calibrate.ou.OUFit': "(kappa: 'float', mean: 'float', sigma: 'float', stderr: 'dict[str, float]', "
                             "conf_int: 'dict[str, tuple[float, float]]', cov: 'NDArray[np.float64]', level: "
                             "'float', loglik: 'float', times: 'NDArray[np.float64]', values: "
                             "'NDArray[np.float64]', dates: 'NDArray[Any] | None', residuals: "
                             "'NDArray[np.float64]', goodness_of_fit: 'dict[str, dict[str, float]]', notes: "
                             "'tuple[str, ...]' = (), diagnostics: 'dict[str, Any]' = <factory>, source: "
                             "'dict[str, Any]' = <factory>) -> None",
 'gelav.stress_table.stress_table': "(process: 'ProcessLike | None', x0: 'float', horizons: 'float | "
                                    "Sequence[float]', thresholds: 'float | Sequence[float]', *, direction: "
                                    "'str' = 'below', methods: 'Sequence[str] | None' = None, paths: 'int' = "
                                    "1000000, seed: 'SeedLike' = 0, cells: 'int' = 800, steps: 'int | None' "
                                    "= None, levels: 'Sequence[float] | None' = None, fit: 'Any' = None, "
                                    "draws: 'int' = 1000, band_level: 'float | None' = None) -> "
                                    "'StressTable'",
 'gelav.tasks.calibrate.calibrate': "(scenario: 'ScenarioLike' = None, **options: 'Any') -> "
                                    "'CalibrationReport'",
 'gelav.tasks.exit_boundary.exit_boundary': "(scenario: 'ScenarioLike' = None, **options: 'Any') -> "
                                            "'ExitBoundaryReport'",
 'gelav.tasks.exit_time.exit_time': "(scenario: 'ScenarioLike' = None, *, process: 'ProcessLike | None' = "
                                    "None, kind: 'str | None' = None, x0: 'Any' = None, **options: 'Any') -> "
                                    "'ExitTimeReport'",
 'gelav.tasks.feynman_kac.feynman_kac': "(scenario: 'ScenarioLike' = None, *, process: 'ProcessLike | None' "
                                        "= None, **options: 'Any') -> 'FeynmanKacReport'",
 'gelav.tasks.ito.ito': "(scenario: 'ScenarioLike' = None, **options: 'Any') -> 'ItoReport'",
 'gelav.tasks.jensen.jensen': "(scenario: 'ScenarioLike' = None, **options: 'Any') -> 'JensenReport'",
 'gelav.tasks.lav.lav': "(scenario: 'ScenarioLike' = None, **options: 'Any') -> 'LAVReport'",
 'gelav.tasks.master_field.master_field': "(scenario: 'ScenarioLike' = None, *, preset: 'str | None' = None, "
                                          "means: 'Sequence[float] | None' = None, spreads: 'Sequence[float] "
                                          "| None' = None, t0: 'float | None' = None, at: 'Sequence[float] | "
                                          "None' = None, n_cells: 'int | None' = None, n_steps: 'int | None' "
                                          "= None, scheme: 'str | None' = None, workers: 'int | None' = "
                                          "None, warm_start: 'str | None' = None, **options: 'Any') -> "
                                          "'MasterFieldReport'",
 'gelav.tasks.mckean_vlasov.mckean_vlasov': "(scenario: 'ScenarioLike' = None, *, chaos: 'bool | None' = "
                                            "None, **options: 'Any') -> 'McKeanVlasovReport'",
 'gelav.tasks.metrics.metrics': "(scenario: 'ScenarioLike' = None, *, data: 'str | Path | None' = None, nav: "
                                "'float | None' = None, time_column: 'str | None' = None, flow_column: 'str "
                                "| None' = None, liquidity_column: 'str | None' = None, index_column: 'str | "
                                "None' = None, alpha: 'float | None' = None, beta: 'float | None' = None, "
                                "gamma: 'float | None' = None, scaling: 'str | None' = None) -> "
                                "'MetricsReport'",
 'gelav.tasks.mfg.mfg': "(scenario: 'ScenarioLike' = None, *, preset: 'str | None' = None, method: 'str | "
                        "None' = None, tol: 'float | None' = None, n_cells: 'int | None' = None, n_steps: "
                        "'int | None' = None, epsilon: 'float | None' = None, at: 'Sequence[float] | None' = "
                        "None, callback: 'Callable[[dict[str, Any]], None] | None' = None, densities: 'bool' "
                        "= False, dynamics: 'Any' = None, check: 'bool' = False) -> 'MFGReport'",
 'gelav.tasks.mfg.mfg_continuation': "(scenario: 'ScenarioLike' = None, *, preset: 'str | None' = None, "
                                     "parameter: 'str' = 'feedback', start: 'float' = 0.0, stop: 'float' = "
                                     "1.0, n: 'int' = 21, n_cells: 'int | None' = None, n_steps: 'int | "
                                     "None' = None, epsilon: 'float | None' = None, tol: 'float | None' = "
                                     "None, stability: 'bool' = True) -> 'ContinuationReport'",
 'gelav.tasks.n_player.n_player': "(scenario: 'ScenarioLike' = None, *, preset: 'str | None' = None, "
                                  "n_players: 'Sequence[int] | None' = None, replications: 'int | None' = "
                                  "None, gain_replications: 'int | None' = None, seed: 'int | None' = None, "
                                  "n_cells: 'int | None' = None, n_steps: 'int | None' = None, scheme: 'str "
                                  "| None' = None, **options: 'Any') -> 'NPlayerReport'",
 'gelav.tasks.portfolio.portfolio': "(scenario: 'ScenarioLike' = None, *, name: 'str | None' = None, L0: "
                                    "'float | None' = None, exit_level: 'float | None' = None, horizon: "
                                    "'float | None' = None, levels: 'Sequence[float] | None' = None, seed: "
                                    "'int | None' = None, equilibrium: 'bool | None' = None, premium: 'Any' "
                                    "= None, exit_boundary: 'bool | None' = None) -> 'PortfolioReport'",
 'gelav.tasks.premium.premium': "(scenario: 'ScenarioLike' = None, *, data: 'str | Path | None' = None, "
                                "scaling: 'str | None' = None, robust: 'bool | None' = None, by: 'str | "
                                "None' = None, alpha: 'float | None' = None, beta: 'float | None' = None, "
                                "gamma: 'float | None' = None) -> 'PremiumReport'",
 'gelav.tasks.stress.stress': "(scenario: 'ScenarioLike' = None, *, process: 'ProcessLike | None' = None, "
                              "kappa: 'float | None' = None, mean: 'float | None' = None, sigma: 'float | "
                              "None' = None, **options: 'Any') -> 'StressReport'",
 'gelav.tasks.trinomial.trinomial': "(scenario: 'ScenarioLike' = None, *, keep_paths: 'bool' = False, "
                                    "**options: 'Any') -> 'TrinomialReport'",
 'gelav.tasks.welfare.welfare': "(scenario: 'ScenarioLike' = None, *, preset: 'str | None' = None, n_cells: "
                                "'int | None' = None, n_steps: 'int | None' = None, epsilon: 'float | None' "
                                "= None, starts: 'Any' = None, callback: 'Callable[[dict[str, Any]], None] | "
                                "None' = None, check: 'bool' = True) -> 'WelfareReport'"}


@pytest.mark.parametrize("name", ["OUFit", "CIRFit", "GBMFit"])
def test_fit_fields_keep_their_positional_order(name):
    import gelav.calibrate as cal
    from gelav.calibrate._result import ParametricFit

    head = ["kappa", "mean", "sigma"] if name == "OUFit" else ["estimates"]
    assert [f.name for f in dataclasses.fields(getattr(cal, name))] == head + FIT_RECORD
    assert [f.name for f in dataclasses.fields(ParametricFit)] == ["estimates", *FIT_RECORD]
    assert [f.name for f in dataclasses.fields(getattr(cal, name)) if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING] == head + FIT_RECORD[:-3]


def test_an_ou_fit_is_built_positionally_as_before():
    from gelav.calibrate import OUFit, fit_ou

    fit = fit_ou(*_series())
    again = OUFit(*(getattr(fit, f.name) for f in dataclasses.fields(OUFit)))
    assert (again.kappa, again.mean, again.sigma, again.stderr, again.source) == (
        fit.kappa, fit.mean, fit.sigma, fit.stderr, fit.source)
    assert again.summary().keys() == fit.summary().keys()


def _series():
    from gelav import OrnsteinUhlenbeck, simulate

    p = simulate(OrnsteinUhlenbeck(0.45, 1.0, 0.32), 1.0, 10.0, 520, 2, scheme="exact", save="all", seed=3)
    return p.times, p.values[:, 0]


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_reports_keep_their_fields_defaults_and_roles(name):
    cls = getattr(tasks, name)
    fields, command, json_field, plotted = REPORTS[name]
    got = [(f.name, repr(f.default) if f.default is not dataclasses.MISSING
            else "required" if f.default_factory is dataclasses.MISSING else "factory")
           for f in dataclasses.fields(cls)]
    assert got == fields
    assert (cls.name, cls.json, cls.plotted) == (command, json_field, plotted)


@pytest.mark.parametrize("qualname", sorted(SIGNATURES))
def test_signatures_are_unchanged(qualname):
    import importlib

    module, _, attr = qualname.rpartition(".")
    while True:
        try:
            obj = importlib.import_module(module)
            break
        except ImportError:
            module, _, outer = module.rpartition(".")
            attr = f"{outer}.{attr}"
    for part in attr.split("."):
        obj = getattr(obj, part)
    assert str(inspect.signature(obj)) == SIGNATURES[qualname]


def test_the_scenario_tables_name_their_tasks_in_the_old_order():
    assert list(tasks._TASKS.items()) == [('calibration', 'calibrate'), ('stress', 'stress'), ('feynman_kac', 'feynman_kac'), ('exit_time', 'exit_time'), ('trinomial', 'trinomial'), ('mckean_vlasov', 'mckean_vlasov'), ('ito', 'ito'), ('mfg', 'mfg'), ('premium', 'premium'), ('metrics', 'metrics'), ('portfolio', 'portfolio'), ('exit_boundary', 'exit_boundary'), ('jensen', 'jensen'), ('welfare', 'welfare'), ('lav', 'lav')]


@pytest.mark.parametrize("module", ["gelav.calibrate.ou", "gelav.calibrate.gbm"])
def test_fit_examples_run_on_the_exact_simulator(module):
    import importlib

    res = doctest.testmod(importlib.import_module(module))
    assert res.attempted >= 5 and res.failed == 0


def test_a_field_states_its_role_and_the_old_class_attributes_still_work():
    from typing import Any

    from gelav.tasks._base import TaskResult

    class Drawn:
        def plot(self):
            return "figure"

    class ByField(TaskResult):
        data: Any = TaskResult.json_field()
        drawn: Any = TaskResult.plotted_field()
        name = "by_field"

    class ByName(TaskResult):  # the spelling before the roles moved to the fields
        data: Any = None
        drawn: Any = None
        name = "by_name"
        json = "data"
        plotted = "drawn"

    for cls in (ByField, ByName):
        r = cls({}, data={"a": 1}, drawn=Drawn())
        assert (cls.json, cls.plotted) == ("data", "drawn")
        assert r.to_dict() == {"a": 1} and r.figures() == {cls.name: "figure"}
    assert TaskResult.json is None and TaskResult.plotted is None  # the base keeps no role


def test_every_task_module_gives_its_result_class_and_its_task():
    assert {k: list(v) for k, v in tasks._MODULES.items()} == {'calibrate': ['CalibrationReport', 'calibrate'], 'exit_boundary': ['ExitBoundaryReport', 'exit_boundary'], 'exit_time': ['ExitTimeReport', 'exit_time'], 'feynman_kac': ['FeynmanKacReport', 'feynman_kac'], 'ito': ['ItoReport', 'ito'], 'jensen': ['JensenReport', 'jensen'], 'lav': ['LAVReport', 'lav'], 'master_field': ['MasterFieldReport', 'master_field'], 'mckean_vlasov': ['McKeanVlasovReport', 'mckean_vlasov'], 'metrics': ['MetricsReport', 'metrics'], 'mfg': ['ContinuationReport', 'MFGReport', 'mfg', 'mfg_continuation'], 'n_player': ['NPlayerReport', 'n_player'], 'portfolio': ['PortfolioReport', 'portfolio'], 'premium': ['PremiumReport', 'premium'], 'stress': ['StressReport', 'stress'], 'trinomial': ['TrinomialReport', 'trinomial'], 'welfare': ['WelfareReport', 'welfare']}
    assert set(tasks.__all__) == {"DEFAULTS", "TASKS", "TaskResult", "export_tables", "read_scenario", *tasks._LAZY}
    for name, module in tasks._LAZY.items():
        assert getattr(tasks, name).__module__ == module
