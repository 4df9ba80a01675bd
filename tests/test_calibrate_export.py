"""`gelav calibrate --export`: the series and residuals of the fit, in CSV, Parquet and NetCDF."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gelav.cli import main


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    rng = np.random.default_rng(4)
    a, sd = np.exp(-2.0 / 52), 0.5 * np.sqrt((1 - np.exp(-4.0 / 52)) / 4.0)
    x = [1.0]
    for _ in range(259):
        x.append(float(1.0 + (x[-1] - 1.0) * a + sd * rng.standard_normal()))
    p = tmp_path_factory.mktemp("cal") / "series.csv"
    p.write_text("t,value\n" + "".join(f"{i / 52:.8f},{v!r}\n" for i, v in enumerate(x)))
    return p, np.array(x)


@pytest.mark.parametrize("ext", ["csv", "parquet", "nc"])
def test_export_writes_series_and_residuals(series_csv, tmp_path, ext):
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    path, x = series_csv
    r = CliRunner().invoke(
        main, ["calibrate", str(path), "--json", "--export", str(tmp_path / f"out.{ext}")]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["exported"]
    if ext == "csv":
        s = np.genfromtxt(tmp_path / "out_series.csv", delimiter=",", names=True)
        np.testing.assert_array_equal(s["value"], x)
        res = np.genfromtxt(tmp_path / "out_residuals.csv", delimiter=",", names=True)
        assert res.size == x.size - 1
        # standardised residuals of a correct model: mean ~0, sd ~1 (n = 259: 4 standard errors)
        assert abs(res["residual"].mean()) < 4 / np.sqrt(res.size)
        assert abs(res["residual"].std() - 1) < 4 / np.sqrt(2 * res.size)
    elif ext == "nc":
        from scipy.io import netcdf_file

        with netcdf_file(str(tmp_path / "out.nc"), "r", mmap=False) as nc:
            np.testing.assert_array_equal(nc.variables["series_value"][:], x)
            assert nc.variables["residuals_residual"][:].size == x.size - 1
    else:
        import pyarrow.parquet as pq

        assert (
            pq.read_table(str(tmp_path / "out_series.parquet")).column("value").to_pylist()
            == x.tolist()
        )
