"""``make bench``: matkeras's self-attention against stock Keras and PyTorch, in one process.

At (batch 32, time 200, channels 64, 4 heads: 16 key channels per head, output 64 channels) it
times inference and a full training step (forward, backward, Adam update) of
``matkeras.layers.SelfAttention``, ``keras.layers.MultiHeadAttention`` and
``torch.nn.MultiheadAttention`` (CPU), without and with a causal mask, interleaved round by
round (``benchmarks.run.measure``), and reports medians and the ratios to stock Keras and to
torch. Writes ``benchmarks/results/<date>-<machine>-attention.md``.

    python -m benchmarks.attention [--quick] [--out PATH]
"""

import argparse
import datetime
import os
import platform
import sys

import numpy as np

import matkeras  # noqa: F401  (before TensorFlow: its CPU settings apply to every candidate)
from benchmarks.run import measure

SHAPE = (32, 200, 64, 4)  # batch, time, channels, heads


def keras_candidates(shape):
    import keras
    import tensorflow as tf

    from matkeras import layers as L

    batch, steps, channels, heads = shape
    x = tf.constant(np.random.default_rng(0).standard_normal((batch, steps, channels)),
                    tf.float32)
    made = {}
    for causal in (False, True):
        suffix = " causal" if causal else ""
        made[f"matkeras{suffix}"] = (L.SelfAttention(
            heads, channels, attention_mask="causal" if causal else "none"), None)
        made[f"stock keras{suffix}"] = (keras.layers.MultiHeadAttention(
            heads, channels // heads), causal)
    runners = {}
    for name, (layer, causal) in made.items():
        if causal is None:
            layer.build((None, None, channels))
            for v in layer.trainable_weights:  # MATLAB-style L2 penalties are not timed here
                v.regularizer = None

            def forward(layer=layer, training=False):
                return layer(x, training=training)
        else:
            layer(x, x, use_causal_mask=causal)  # builds

            def forward(layer=layer, causal=causal, training=False):
                return layer(x, x, use_causal_mask=causal, training=training)
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(layer.trainable_weights)

        @tf.function(jit_compile=False)
        def infer(forward=forward):
            return forward()

        @tf.function(jit_compile=False)
        def train(layer=layer, optimizer=optimizer, forward=forward):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(forward(training=True)))
            grads = tape.gradient(loss, layer.trainable_weights)
            optimizer.apply(grads, layer.trainable_weights)
            return loss

        runners[name] = {"infer": lambda f=infer: f().numpy(),
                         "train": lambda f=train: f().numpy()}
    return runners


def torch_candidates(shape):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    batch, steps, channels, heads = shape
    module = torch.nn.MultiheadAttention(channels, heads, batch_first=True)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(
        (batch, steps, channels)).astype(np.float32))
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)
    causal_mask = torch.nn.Transformer.generate_square_subsequent_mask(steps)

    def runners(causal):
        mask = causal_mask if causal else None

        def forward():
            return module(x, x, x, attn_mask=mask, is_causal=causal, need_weights=False)[0]

        def infer():
            with torch.no_grad():
                return forward()

        def train():
            optimizer.zero_grad()
            loss = forward().square().mean()
            loss.backward()
            optimizer.step()
            return loss

        return {"infer": infer, "train": train}

    return {"torch": runners(False), "torch causal": runners(True)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    repeats = 5 if args.quick else 15
    print(f"[bench] self-attention at {SHAPE} ...", file=sys.stderr, flush=True)
    runners = {**keras_candidates(SHAPE), **torch_candidates(SHAPE)}
    medians, memory = measure(runners, repeats)
    batch, steps, channels, heads = SHAPE
    lines = [f"# matkeras self-attention benchmark, {datetime.date.today()} on {platform.node()}",
             "", f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores. "
             f"Shape (batch, time, channels, heads) = {SHAPE}: {channels // heads} key channels "
             f"per head, output {channels} channels. Medians of {repeats} interleaved rounds, "
             "fp32, CPU; training = forward, backward and an Adam update. "
             "`matkeras` is `SelfAttention(4, 64)`, `stock keras` "
             "`keras.layers.MultiHeadAttention(4, 16)` on (x, x), `torch` "
             "`torch.nn.MultiheadAttention(64, 4, batch_first=True)` (need_weights=False). "
             f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}.", "",
             "| candidate | infer ms | train ms | infer / stock Keras | train / stock Keras | "
             "infer / torch | train / torch | peak RSS added MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, m in medians.items():
        suffix = " causal" if name.endswith("causal") else ""
        stock, torch_t = medians[f"stock keras{suffix}"], medians[f"torch{suffix}"]
        lines.append(
            f"| {name} | {m['infer']:.2f} | {m['train']:.2f} | "
            f"{m['infer'] / stock['infer']:.2f}x | {m['train'] / stock['train']:.2f}x | "
            f"{m['infer'] / torch_t['infer']:.2f}x | {m['train'] / torch_t['train']:.2f}x | "
            f"{memory[name]:.0f} |")
    text = "\n".join(lines)
    print(text)
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{datetime.date.today()}-{platform.node() or 'machine'}"
                                   f"-attention{'-quick' if args.quick else ''}.md")
    with open(out, "w") as handle:
        handle.write(text + "\n")
    print(f"[bench] wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
