"""Every numerical tolerance the tests use, in one place (see DESIGN.md, house style 4)."""

#: matkeras in float64 against the float64 numpy oracle.
FLOAT64_ATOL = 1e-10
#: matkeras in float32 against the float64 numpy oracle.
FLOAT32_ATOL = 1e-5
#: matkeras under the mixed_float16 policy (float16 compute, float32 weights) against the oracle:
#: float16 has an 11-bit significand (eps 9.8e-4), and rounding errors accumulate over the steps.
MIXED_FLOAT16_ATOL = 2e-2
#: Two float32 implementations of the same equations (matkeras vs stock Keras, vs ONNX's float32
#: reference outputs): both round differently, each within FLOAT32_ATOL of exact.
FLOAT32_PAIR_ATOL = 1e-5
#: The same float32 network compiled by XLA or run as TensorFlow's graph (matkeras._forward): the
#: kernels fuse and sum in other orders, each within float32 rounding of the exact value.
XLA_ATOL = 1e-6
#: A projected layer against its multiplied-out plain layer, float32 (the issue asks for 1e-6).
PROJECTION_ATOL = 1e-6
#: The Rossler fixture's RMSE, as the fixture README states it (0.0749 +- 0.0005).
ROSSLER_LSTM60_RMSE = 0.0749
ROSSLER_LSTM60_RMSE_TOL = 0.0005
#: Relative tolerance on a sample variance over n >= 10^4 draws (standard error sqrt(2/n) <= 1.5%).
VARIANCE_RTOL = 0.06
#: Orthogonality of initialized matrices, float32 Q^T Q against the identity.
ORTHOGONALITY_ATOL = 1e-5
#: The dropped fraction of >= 3000 attention weights against the DropoutProbability p = 0.3:
#: its standard error is sqrt(p(1-p)/n) <= 0.0084, so 0.04 is about five standard errors.
DROPOUT_RATE_ATOL = 0.04
#: MathWorks' transformer example network (dagnetwork_transformer_selfattention.mat) on its own
#: data, one step ahead, over the 686 test windows (target day in 2021 or later), in z-score
#: units: the float64 numpy pass of its saved weights, and the naive last-value forecast.
TRANSFORMER_TEST_RMSE = 0.06614
TRANSFORMER_NAIVE_RMSE = 0.05594
TRANSFORMER_RMSE_TOL = 5e-5
