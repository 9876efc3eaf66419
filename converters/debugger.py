"""Per-layer quantization error with TFLite's quantization debugger (RMSE / scale per tensor)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from edgesign import atomic
from edgesign.data import Dataset
from edgesign.preprocess import Preprocess
from edgesign.targets import get_target
from edgesign.training.tf_env import tf

from .tflite import converter_call, make_converter, representative_dataset


def _debugger(model, calib: Dataset, pre: Preprocess, denylist: list[str] | None = None):
    converter = make_converter(model, get_target("int8"), calib, pre, io_type="float32")
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist) if denylist else None
    return tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative_dataset(calib, pre, progress=False),
        debug_options=options)


def layer_errors(model, calib: Dataset, pre: Preprocess, csv_path: Path | None = None) -> list[dict]:
    """Rows of (op, tensor, scale, rmse/scale, ...) sorted worst first; written as CSV if asked."""
    with converter_call():
        debugger = _debugger(model, calib, pre)
        debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    for r in rows:
        scale = float(r.get("scale") or 0)
        mse = float(r.get("mean_squared_error") or 0)
        r["rmse/scale"] = float(np.sqrt(mse) / scale) if scale else 0.0
    rows.sort(key=lambda r: -r["rmse/scale"])
    if csv_path is not None and rows:
        write_layer_csv(rows, csv_path)
    return rows


def write_layer_csv(rows: list[dict], csv_path: Path) -> None:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=["op_name", "tensor_name", "scale", "zero_point", "rmse/scale",
                                        "mean_squared_error", "max_abs_error", "mean_error", "stddev",
                                        "num_elements", "tensor_idx"], extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(csv_path, out.getvalue())


def selective_model(model, calib: Dataset, pre: Preprocess, float_nodes: list[str]) -> bytes:
    """A full-int8 model with ``float_nodes`` (tensor names from :func:`layer_errors`) kept in float."""
    with converter_call():
        debugger = _debugger(model, calib, pre, denylist=float_nodes)
        return bytes(debugger.get_nondebug_quantized_model())
