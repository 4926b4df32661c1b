"""The architecture registry, the seed architectures' structure, and the MAC counter."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from sklkws.models import (  # noqa: E402
    ARCHITECTURES,
    KerasCNNClassifier,
    build_model,
    count_macs,
    register_architecture,
)

MEL = (40, 101)  # MelFeatures' default log-mels of a 1 s clip


def n_layers(model, kind):
    return sum(isinstance(layer, kind) for layer in model.layers)


def test_count_macs_matches_hand_counts():
    inputs = keras.Input((8, 10))
    x = layers.Reshape((8, 10, 1))(inputs)
    x = layers.Conv2D(4, 3, padding="same")(x)  # 8*10 positions * 9 taps * 1 in * 4 out = 2880
    x = layers.DepthwiseConv2D(3, padding="same")(x)  # 8*10 * 9 * 4 channels = 2880
    x = layers.SeparableConv2D(6, 3, padding="same")(x)  # 2880 depthwise + 8*10 * 4 * 6 = 1920
    x = layers.Conv2D(6, 1, groups=2)(x)  # 8*10 * 1 * (6/2) * 6 = 1440
    x = layers.BatchNormalization()(x)  # folded into the convolution on export: 0
    x = layers.Reshape((80, 6))(x)
    x = layers.Conv1D(2, 5, strides=2, padding="same")(x)  # 40 positions * 5 * 6 * 2 = 2400
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(5)(x)  # 2 * 5 = 10
    model = keras.Model(inputs, outputs)
    assert count_macs(model) == 2880 + 2880 + 2880 + 1920 + 1440 + 2400 + 10

    shared = layers.Dense(3)  # a layer called twice counts twice; a nested model counts too
    a, b = keras.Input((4,)), keras.Input((4,))
    inner = keras.Model([a, b], layers.Add()([shared(a), shared(b)]))
    outer_in = [keras.Input((4,)), keras.Input((4,))]
    outer = keras.Model(outer_in, layers.Dense(2)(inner(outer_in)))
    assert count_macs(outer) == 2 * 12 + 6
    # Reusing them in other graphs (as the exporter does) changes none of the counts.
    for _ in range(2):
        again = [keras.Input((4,)), keras.Input((4,))]
        keras.Model(again, outer(again))
        keras.Model(again, inner(again))
    assert count_macs(inner) == 2 * 12 and count_macs(outer) == 2 * 12 + 6


def test_seed_architectures_have_the_seed_structure():
    resnet = build_model("resnet1d", (16000,), 12)
    convs = n_layers(resnet, layers.Conv1D)
    shortcuts = sum(1 for layer in resnet.layers if isinstance(layer, layers.Conv1D) and layer.kernel_size == (1,))
    assert convs - shortcuts == 1 + 2 * 17  # stem + 17 blocks of two convolutions
    assert n_layers(resnet, layers.Add) == 17
    assert n_layers(resnet, layers.GlobalAveragePooling1D) == 1 and n_layers(resnet, layers.Dense) == 1
    assert all(layer.kernel_regularizer is not None for layer in resnet.layers if isinstance(layer, layers.Conv1D))

    cnn6 = build_model("cnn6", MEL, 12)
    assert n_layers(cnn6, layers.Conv2D) == 6 and n_layers(cnn6, layers.Flatten) == 1
    assert n_layers(cnn6, layers.Dense) == 3 and n_layers(cnn6, layers.BatchNormalization) == 0

    cnn17 = build_model("cnn17", MEL, 12)
    assert n_layers(cnn17, layers.Conv2D) == 17 and n_layers(cnn17, layers.BatchNormalization) == 17
    assert n_layers(cnn17, layers.GlobalAveragePooling2D) == 1 and n_layers(cnn17, layers.Dense) == 1

    cnn9 = build_model("cnn9", MEL, 80, output_activation="sigmoid")
    assert n_layers(cnn9, layers.Conv2D) == 8 and n_layers(cnn9, layers.Dense) == 1  # 9 weight layers
    # Average pooling along time (width), max pooling along mel (height), block by block.
    assert {layer.pool_size for layer in cnn9.layers if isinstance(layer, layers.AveragePooling2D)} == {(1, 2)}
    pools = [layer.pool_size for layer in cnn9.layers if isinstance(layer, layers.MaxPooling2D)]
    assert pools[:4] == [(2, 1)] * 4
    # The head: mel pairs folded into channels, max over all frames, mean over mel.
    assert pools[-1] == (101 // 16 + 1, 1)
    assert cnn9.layers[-1].activation.__name__ == "sigmoid"
    se = build_model("cnn9", MEL, 80, se_ratio=8)
    assert n_layers(se, layers.Multiply) == 4 and n_layers(cnn9, layers.Multiply) == 0


def test_efficient_architectures_fit_the_compute_budget():
    bc = build_model("bcresnet", MEL, 12)
    assert count_macs(bc) <= 30_000_000
    assert n_layers(bc, layers.DepthwiseConv2D) > 12
    res8 = build_model("res2d", MEL, 12)
    assert 100_000 < res8.count_params() < 120_000  # res8 has 110k parameters
    assert {layer.dilation_rate for layer in res8.layers if isinstance(layer, layers.Conv2D)} == {(1, 1), (2, 2)}
    res15 = build_model("res2d", MEL, 12, n_layers=12, pool=None)
    assert count_macs(res15) > 20 * count_macs(res8)
    # TC-ResNet14 and TC-ResNet14-1.5 have 137 k and 305 k parameters (Choi et al. 2019, Table 1).
    tc = build_model("tcresnet", MEL, 12, input_norm=False)
    assert abs(tc.count_params() - 137_000) < 2_000
    assert abs(build_model("tcresnet", MEL, 12, width=1.5, input_norm=False).count_params() - 305_000) < 3_000
    assert n_layers(tc, layers.Conv2D) == 0 and n_layers(tc, layers.Add) == 6  # temporal convolutions only
    assert [layer.strides for layer in tc.layers if isinstance(layer, layers.Conv1D) and layer.kernel_size == (9,)][::4] \
        == [(2,), (2,), (2,)]  # each stage starts with stride 2 (101 -> 51 -> 26 -> 13 frames)
    tc8 = build_model("tcresnet", MEL, 12, blocks_per_stage=1)
    assert n_layers(tc8, layers.Add) == 3
    # The 2-D stem halves the bands twice and folds them into the temporal channels: 40 / 4 * 8.
    stem = build_model("tcresnet", MEL, 12, stem2d=8)
    assert n_layers(stem, layers.Conv2D) == 2
    first_temporal = next(layer for layer in stem.layers if isinstance(layer, layers.Conv1D))
    assert first_temporal.input.shape[1:] == (101, 80)
    # Only the built-in ones: other modules and tests register architectures with other inputs.
    built_in = [name for name, build in ARCHITECTURES.items() if build.__module__ == "sklkws.models._architectures"]
    assert len(built_in) >= 6
    for name in built_in:
        model = build_model(name, MEL, 12)
        out = model(np.zeros((2, *MEL), dtype=np.float32))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(axis=1), 1.0, rtol=1e-5)


def test_register_architecture_plugs_into_the_classifiers(rng):
    @register_architecture("test_flat_dense")
    def build_flat(input_shape, n_outputs, *, output_activation="softmax", l2=0.0, dropout=0.0, units=3):
        inputs = keras.Input(input_shape)
        x = layers.Dense(units, activation="relu")(layers.Flatten()(inputs))
        return keras.Model(inputs, layers.Dense(n_outputs, activation=output_activation)(x))

    try:
        X = rng.normal(size=(10, 4, 5)).astype(np.float32)
        clf = KerasCNNClassifier("test_flat_dense", {"units": 7}, epochs=1, run_eagerly=True, random_state=0)
        clf.fit(X, np.arange(10) % 2)
        assert clf.model_.layers[-2].units == 7
        assert count_macs(clf.model_) == 20 * 7 + 7 * 2
        with pytest.raises(ValueError, match="already registered"):
            register_architecture("test_flat_dense")(lambda *a, **k: None)
    finally:
        del ARCHITECTURES["test_flat_dense"]
