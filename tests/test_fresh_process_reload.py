"""Every registered ``.keras`` case (tests/fresh_reload.py) reloads in a new Python process of
its own, where only ``import matkeras`` can have registered the classes, with identical
outputs."""

import numpy as np

# The modules whose cases this test reloads (importing them registers their cases).
import tests.layers.test_graph_layers
import tests.layers.test_lstm_api
import tests.layers.test_onnx_import_layers
import tests.layers.test_recurrent_family_api
import tests.layers.test_transformer_api
import tests.test_dlnetwork  # noqa: F401
from tests.fresh_reload import CASES, reload_all


def test_every_case_reloads_in_a_fresh_process_of_its_own_with_identical_outputs(tmp_path):
    results = reload_all(tmp_path, np.random.default_rng(29))
    assert len(results) == len(CASES) >= 5
    for name, (expected, reloaded, checks, found) in results.items():
        assert len(reloaded) == len(expected) >= 1, name
        for want, got in zip(expected, reloaded, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=name)
        for (expression, ending), value in zip(checks.items(), found, strict=True):
            assert value.endswith(ending), (name, expression, value)
