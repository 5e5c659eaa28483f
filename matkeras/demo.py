"""``make demo``: MATLAB's "Sequence Classification Using Deep Learning" example, in matkeras.

The MATLAB original::

    layers = [sequenceInputLayer(12)
              lstmLayer(100, 'OutputMode', 'last')
              fullyConnectedLayer(9)
              softmaxLayer
              classificationLayer];
    options = trainingOptions('adam', 'MaxEpochs', 100, 'MiniBatchSize', 27, ...
        'GradientThreshold', 1, 'SequenceLength', 'longest', 'Shuffle', 'never');

with the training data sorted by sequence length. Here the same network is a ``keras.Model``
trained with ``model.fit`` on the Japanese Vowels data that ships inside matkeras.
"""

import argparse
import time

import keras
import numpy as np

from matkeras.data import SequenceDataset
from matkeras.datasets import japanese_vowels
from matkeras.layers import LSTM, MatlabL2
from matkeras.layers.regularizers import DEFAULT_L2_REGULARIZATION

NUM_FEATURES, NUM_HIDDEN_UNITS, NUM_CLASSES = 12, 100, 9
MINI_BATCH_SIZE = 27
MAX_EPOCHS = 100


def build_model():
    """sequenceInputLayer(12) -> lstmLayer(100,'OutputMode','last') -> fc(9) -> softmax."""
    inputs = keras.Input((None, NUM_FEATURES), name="sequenceinput")
    x = LSTM(NUM_HIDDEN_UNITS, output_mode="last", name="lstm")(inputs)
    x = keras.layers.Dense(
        NUM_CLASSES, name="fc", kernel_regularizer=MatlabL2(DEFAULT_L2_REGULARIZATION, 1.0)
    )(x)
    outputs = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="japanese_vowels_lstm")


def classify(model, sequences):
    """MATLAB's classify with MiniBatchSize 27 on length-sorted data; results in input order."""
    data = SequenceDataset(sequences, mini_batch_size=MINI_BATCH_SIZE, shuffle="never",
                           sort_by_length=True)
    scores = model.predict(data.to_tf_dataset(), verbose=0)
    labels = np.empty(len(sequences), dtype="int64")
    labels[data.order] = np.argmax(scores, axis=-1)
    return labels


def train(epochs=MAX_EPOCHS, seed=0, verbose=1):
    """Trains the demo network; returns ``(model, test accuracy, seconds, test data)``."""
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = japanese_vowels()
    if verbose:
        print(f"Japanese Vowels: {len(x_train)} training / {len(x_test)} test sequences, "
              f"{NUM_FEATURES} features, {NUM_CLASSES} classes (UCI, CC BY 4.0).")
    training = SequenceDataset(x_train, y_train, mini_batch_size=MINI_BATCH_SIZE,
                               shuffle="never", sort_by_length=True)
    model = build_model()
    if verbose:
        model.summary()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0),  # GradientThreshold 1
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(training.to_tf_dataset(), epochs=epochs, verbose=verbose)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(classify(model, x_test) == y_test))
    return model, accuracy, seconds, (x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=MAX_EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _, accuracy, seconds, (x_test, _) = train(args.epochs, args.seed)
    print(f"Trained {args.epochs} epochs in {seconds:.1f} s.")
    print(f"Test accuracy: {accuracy:.4f} ({len(x_test)} sequences)")
    return accuracy


if __name__ == "__main__":
    main()
