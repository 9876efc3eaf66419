"""Would int8 copies of MediaPipe's hand models make a still image faster? Measured side by side in one run.

The pinned files keep their weights in float16 behind DEQUANTIZE ops, which ai-edge-quantizer leaves alone
(it quantizes nothing in them). This probe folds those weights into float32 constants (the same graph: its
outputs equal the original's), gives the graph a signature, quantizes it with ai-edge-quantizer both ways
(dynamic range: int8 weights, float activations; static: int8 weights and activations, calibrated on photos of
both signers resized to the model's input) and times every copy's bare ``invoke()`` on one thread. It also
reports how far each copy's first output (the palm boxes, the 21 landmarks in pixels) moves on photos the
calibration did not see. A probe, not a product path: needs the `train` and `quantize` extras.

    python bench/hand_models_int8.py [--photos 100] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from bench.hands_bench import bare_invoke_ms  # noqa: E402
from edgesign.adapters import from_output, to_input  # noqa: E402
from edgesign.handfiles import hand_model_path  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MODELS = {"palm_detection_lite": 192, "hand_landmark_full": 224}


def float32_graph(content: bytes) -> bytes:
    """The model with its float16 weights folded into float32 constants and a ``serving_default`` signature."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    graph = model.subgraphs[0]
    dequantize = {i for i, c in enumerate(model.operatorCodes)
                  if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.DEQUANTIZE}
    kept = []
    for op in graph.operators:
        source, target = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        data = model.buffers[source.buffer].data if op.opcodeIndex in dequantize else None
        if source.type == schema.TensorType.FLOAT16 and data is not None and len(data):
            weights = np.frombuffer(bytes(data), np.float16).astype(np.float32)
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(weights.tobytes(), np.uint8)
            model.buffers.append(buffer)
            target.buffer = len(model.buffers) - 1
        else:
            kept.append(op)
    graph.operators = kept
    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = "serving_default", 0
    signature.inputs = [_tensor_map(schema, graph, i) for i in graph.inputs]
    signature.outputs = [_tensor_map(schema, graph, i) for i in graph.outputs]
    model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _tensor_map(schema, graph, index: int):
    entry = schema.TensorMapT()
    entry.name, entry.tensorIndex = graph.tensors[index].name, index
    return entry


def quantized(content: bytes, calibration: list[np.ndarray] | None) -> bytes:
    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(bytearray(content))
    if calibration is None:
        qt.load_quantization_recipe(recipe.dynamic_wi8_afp32())
        return bytes(qt.quantize().quantized_model)
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    name = interpreter(content).get_signature_list()["serving_default"]["inputs"][0]
    result = qt.calibrate({"serving_default": [{name: x} for x in calibration]})
    return bytes(qt.quantize(result).quantized_model)


def interpreter(content: bytes):
    from edgesign.interpreter import load_backend, make_interpreter

    it = make_interpreter(content, load_backend("auto"), 1)
    it.allocate_tensors()
    return it


def first_output(it, x: np.ndarray) -> np.ndarray:
    """The model's first output on ``x`` (float in [0, 1]), quantized in and dequantized out where the copy is int8."""
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], to_input(x, inp))
    it.invoke()
    return from_output(it.get_tensor(out["index"]), out)


def photos(count: int) -> list[Path]:
    signer1 = sorted((DATA / "asl-photos" / "train").glob("*/*.jpg"))
    signer2 = sorted((DATA / "asl-second-signer").glob("*/*.jpg"))
    return signer1[:: max(1, 2 * len(signer1) // count)] + signer2[:: max(1, 2 * len(signer2) // count)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100, help="photos of both signers: even ones calibrate, odd ones measure")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    chosen = photos(args.photos)
    print(f"{'model':22s} {'copy':14s} {'invoke ms':>9s} {'x original':>10s} {'output moves, median':>21s} {'max':>8s}")
    for name, side in MODELS.items():
        images = [np.asarray(Image.open(p).convert("RGB").resize((side, side)), np.float32)[None] / 255 for p in chosen]
        original = hand_model_path(f"{name}.tflite").read_bytes()
        folded = float32_graph(original)
        copies = {"original (fp16)": original, "float32": folded, "dynamic int8": quantized(folded, None),
                  "static int8": quantized(folded, images[::2])}
        reference = interpreter(original)
        expected = [first_output(reference, x) for x in images[1::2]]
        base = None
        for label, content in copies.items():
            it = interpreter(content)
            moves = [float(np.abs(first_output(it, x) - e).max()) for x, e in zip(images[1::2], expected)]
            ms = bare_invoke_ms(it, args.runs)
            base = base or ms
            print(f"{name:22s} {label:14s} {ms:9.2f} {ms / base:10.2f} {np.median(moves):21.3f} {max(moves):8.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
