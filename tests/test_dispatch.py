"""Runtime CPU dispatch: the choice of variant, NNCORE_ISA, and that every variant this CPU can run
trains to the same weights within float tolerance (each in its own interpreter: a process loads
one variant)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nncore
from nncore import _cpu, _dispatch

RUNNABLE = _dispatch.runnable_levels()

# Train a small network in float32 and float64 and print the weights and predictions as JSON.
SCRIPT = """
import json, numpy as np, nncore
rng = np.random.default_rng(0)
X = rng.standard_normal((200, 40)); Y = rng.standard_normal((200, 3))
out = {"isa": nncore.config()["isa"]}
for dtype in ("float32", "float64"):
    m = nncore.MLP([40, 64, 3], activation="tanh", dtype=dtype, seed=1)
    m.fit(X, Y, loss="mse", optimizer="adam", learning_rate=0.01, epochs=3, batch_size=16,
          n_iter_no_change=None)
    out[dtype] = m._network.parameters.astype(float).tolist()
    out[dtype + "_predict"] = m.predict(X[:20]).astype(float).tolist()
print(json.dumps(out))
"""


def run_variant(level: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, "NNCORE_ISA": level},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_the_chosen_variant_is_the_best_runnable_one() -> None:
    forced = os.environ.get("NNCORE_ISA")
    expected = _dispatch.choose(forced) if forced else RUNNABLE[0]
    assert nncore.config()["isa"] == expected


def test_supported_levels_are_consistent() -> None:
    levels = _cpu.supported_levels()
    assert levels == [level for level in ("x86-64-v2", "x86-64-v3", "x86-64-v4") if level in levels]
    # A level implies the ones below it.
    assert levels == ["x86-64-v2", "x86-64-v3", "x86-64-v4"][: len(levels)]


@pytest.mark.skipif(len(RUNNABLE) < 2, reason=f"only one runnable variant built ({RUNNABLE})")
def test_every_runnable_variant_trains_to_the_same_weights() -> None:
    results = {level: run_variant(level) for level in RUNNABLE}
    first = results[RUNNABLE[0]]
    for level, result in results.items():
        assert result["isa"] == level
        for dtype, rtol, atol in (("float32", 1e-4, 1e-5), ("float64", 1e-11, 1e-12)):
            for key in (dtype, dtype + "_predict"):
                np.testing.assert_allclose(
                    np.array(result[key]), np.array(first[key]), rtol=rtol, atol=atol, err_msg=level
                )


def test_forcing_a_level_that_is_not_built_is_an_import_error() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import nncore"],
        env={**os.environ, "NNCORE_ISA": "pentium-mmx"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "NNCORE_ISA='pentium-mmx'" in result.stderr


def test_unsupported_built_levels_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_dispatch, "built_levels", lambda: ["x86-64-v4", "x86-64-v2"])
    monkeypatch.setattr(_dispatch, "runnable_levels", lambda: ["x86-64-v2"])
    assert _dispatch.choose(None) == "x86-64-v2"
    assert _dispatch.choose("SSE4.2") == "x86-64-v2"
    with pytest.raises(ImportError, match="does not support x86-64-v4"):
        _dispatch.choose("avx512")
    monkeypatch.setattr(_dispatch, "runnable_levels", lambda: [])
    with pytest.raises(ImportError, match="supports none"):
        _dispatch.choose(None)


def test_show_config_names_version_isa_and_threads(capsys: pytest.CaptureFixture[str]) -> None:
    nncore.show_config()
    out = capsys.readouterr().out
    assert f"version:            {nncore.__version__}" in out
    assert f"isa:                {nncore.config()['isa']}" in out
    assert f"num_threads:        {nncore.get_num_threads()}" in out
    assert "eigen:              3.4" in out
