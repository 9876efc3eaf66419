"""The edgesign command line: a thin layer over the Python API.

Runtime commands (predict, info, evaluate, benchmark, check's device half) never import
TensorFlow; train and convert need the 'train' extra and say so in one line when it is missing.
"""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from .atomic import check_output
from .errors import EdgesignError
from .targets import target_help

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Sign-language classifiers from training to a certified int8 model on the device.")


def _echo_err(msg: str) -> None:
    typer.echo(msg, err=True)


def _version(value: bool) -> None:
    """``--version``: edgesign's, and the interpreters and numpy it would run on (for a bug report), then exit."""
    if not value:
        return
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    found = []
    for package in ("ai-edge-litert", "tflite-runtime", "tensorflow", "numpy"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    typer.echo(f"edgesign {__version__} ({', '.join(found)}; Python {platform.python_version()})")
    raise typer.Exit()


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", help="Show the libraries' own logs (LiteRT, TensorFlow)."),
          show_version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                            help="Show edgesign's version and its interpreters', then exit."),
          ) -> None:
    """Sign-language classifiers from training to a certified int8 model on the device."""
    if verbose:
        import os

        os.environ["EDGESIGN_VERBOSE"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


# options shared by the runtime commands, for models that carry no metadata of their own
LABELS = typer.Option(None, "--labels", help="Models without metadata: a labels file, one class a line, in output order.")
INPUT_RANGE = typer.Option(None, "--input-range", help="Models without metadata: the input range the model expects, "
                           "LOW,HIGH (0,1 / -1,1 / 0,255).")
MEAN = typer.Option(None, "--mean", help="Models without metadata: per-channel mean on 0-255 pixels (127.5 or R,G,B), "
                    "with --std: input = (pixel - mean) / std.")
STD = typer.Option(None, "--std", help="Models without metadata: per-channel std on 0-255 pixels, with --mean.")
SUMMARY = typer.Option(None, "--summary", help="Write the gate's result as Markdown here (it is also appended to "
                       "$GITHUB_STEP_SUMMARY when that is set).")
JUNIT = typer.Option(None, "--junit", help="Write the gate's result as JUnit XML here (CI test reports).")
THREADS = typer.Option(None, "--threads", help="Interpreter threads (default: the cores this process may use).")
BACKEND = typer.Option("auto", "--backend", help="auto, ai-edge-litert, tflite-runtime or tensorflow (tf.lite).")
RESIZE = typer.Option(None, "--resize", help="Models without metadata: center_crop (default) or stretch.")


def _overrides(labels, input_range, mean, std, resize):
    from .preprocess import Overrides

    return Overrides.from_options(labels, input_range, mean, std, resize)


# ----------------------------------------------------------------------------- train

@app.command()
def train(
    ctx: typer.Context,
    model: Optional[str] = typer.Argument(None, metavar="[MODEL]", help="Registered model name (see --list)."),
    data: Optional[List[str]] = typer.Option(None, "--data", help="Training data: class folders, Sign MNIST .csv or SIGNS .h5 "
                                             "(landmark models: repeat for each signer)."),
    test_data: Optional[List[str]] = typer.Option(None, "--test-data", help="Held-out data: evaluated once, never tuned on "
                                                  "(landmark models: repeat, reported per signer)."),
    out: Optional[str] = typer.Option(None, "-o", "--out", help="Run folder (default runs/<model>)."),
    size: Optional[int] = typer.Option(None, "--size", min=1, help="Input height and width (default: the model's)."),
    channels: Optional[int] = typer.Option(None, "--channels", help="1 (grayscale) or 3 (RGB)."),
    epochs: int = typer.Option(30, "--epochs", min=1, help="Epochs (early stopping may end sooner)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Images per step (per replica)."),
    lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate (cosine schedule, warm-up)."),
    label_smoothing: float = typer.Option(0.1, "--label-smoothing"),
    patience: int = typer.Option(10, "--patience", min=0, help="Early stopping on validation accuracy."),
    val_fraction: float = typer.Option(0.15, "--val-fraction", help="Stratified validation split carved from the training data."),
    val_split: str = typer.Option("random", "--val-split", help="random, or blocks: hold out the last files of each class (new backgrounds)."),
    seed: int = typer.Option(0, "--seed"),
    augment: str = typer.Option("default", "--augment", help="none, default, or JSON of augmentation options."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Transfer models: imagenet, none or a weights file; other models: a weights file or run model to start from."),
    head: Optional[str] = typer.Option(None, "--head", help="vgg16-transfer head: gap (default) or seed (200 M params)."),
    fine_tune_epochs: int = typer.Option(5, "--fine-tune-epochs", min=0, help="Transfer models: epochs with the top block unfrozen."),
    distribute: str = typer.Option("auto", "--distribute", help="auto, none, mirrored, multiworker (TF_CONFIG)."),
    mixed_precision: str = typer.Option("auto", "--mixed-precision", help="auto (on GPU), on, off."),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="models/<name>.toml: reproduce a shipped model."),
    hand_crop: bool = typer.Option(False, "--hand-crop", help="Image models: train on the hand stage's crop of each "
                                   "photo (repeat --data for each signer); the converted file is a hand pipeline."),
    mirror: Optional[bool] = typer.Option(None, "--mirror/--no-mirror", help="Landmark models: also learn every photo "
                                          "mirrored, the letters as a left hand signs them (default: on; image models "
                                          "flip with --augment '{\"flip\": true}')."),
    nothing_hands: Optional[bool] = typer.Option(None, "--nothing-hands/--no-nothing-hands", help="Landmark models: "
                                                 "learn the Nothing photos that show a hand (a hand at rest) as Nothing "
                                                 "(default: off, Nothing is the hand stage finding no hand)."),
    flex: Optional[float] = typer.Option(None, "--flex", help="Landmark models: bend the augmented hands' finger joints "
                                         "by this many degrees (normal; default 12, 0: not), another person's form "
                                         "of the letter."),
    data_root: Optional[str] = typer.Option(None, "--data-root", help="Where a recipe's {data} points ($EDGESIGN_DATA)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    list_: bool = typer.Option(False, "--list", help="List the registered models and exit."),
) -> None:
    """Train a registered MODEL (see --list) and write a run folder (model, labels, config, history, plots)."""
    if list_:
        _list_models()
        return
    if recipe:
        _refuse_options_beside_recipe(ctx, recipe)
    _check_training_numbers(lr, val_fraction, label_smoothing)
    check_output(out, "dir")
    from .data import require_dataset

    for path in [*(data or []), *(test_data or [])]:
        require_dataset(path)  # before TensorFlow loads: a mistyped path answers at once
    _refuse_repeated_data(data or [], test_data or [])
    from .extras import require_train

    require_train("edgesign train")
    # the registry loads no TensorFlow: a mistyped model name answers at once
    from edgesign.training import get_spec

    if recipe:
        from edgesign.training.recipe import load_recipe

        cfg = load_recipe(recipe, data_root, out).train
    else:
        if not model or not data:
            raise EdgesignError("edgesign train needs a MODEL and --data (or --recipe)")
        landmark_options = {"mirror": mirror, "nothing_hands": nothing_hands, "flex": flex}
        if get_spec(model).inputs == "hand-landmarks":
            landmark_options.update(_landmark_training_options(ctx, model, {
                "batch_size": batch_size, "lr": lr, "label_smoothing": label_smoothing, "val_fraction": val_fraction}))
            _train_landmarks(model, data, test_data or [], out, epochs, seed, landmark_options)
            return
        _refuse_landmark_options(landmark_options)
        _refuse_options_the_model_lacks(ctx, model, weights)
        if (len(data) > 1 and not hand_crop) or len(test_data or []) > 1:
            raise EdgesignError(f"{model} trains on one --data and one --test-data (landmark models, and image "
                                "models with --hand-crop, take several --data)")
        from edgesign.training.train import TrainConfig

        cfg = TrainConfig(model=model, data=data[0], more_data=list(data[1:]), hand_crop=_recipe_hand_stage(hand_crop),
                          test_data=test_data[0] if test_data else None,
                          out=out or f"runs/{model}", input_size=size, channels=channels, epochs=epochs,
                          batch_size=batch_size, learning_rate=lr, label_smoothing=label_smoothing, patience=patience,
                          val_fraction=val_fraction, val_split=val_split, seed=seed, augment=_augment_option(augment),
                          weights=weights, model_options={"head": head} if head else {},
                          fine_tune_epochs=fine_tune_epochs, distribute=distribute, mixed_precision=mixed_precision)
    get_spec(cfg.model)
    from edgesign.training.train import train as run_training

    result = run_training(cfg, resume=resume)
    typer.echo(f"best validation accuracy {100 * result.best_val_accuracy:.2f} % after {result.epochs_run} epochs "
               f"({result.seconds:.0f} s, {result.images_per_second:.0f} img/s)")
    if result.test is not None:
        typer.echo(f"test accuracy {100 * result.test.accuracy:.2f} % on {result.test.n} images ({result.test.data})")
    typer.echo(f"run folder: {result.run_dir}")


# What may go with --recipe: where the run goes, where the data is, and how it runs (not what it trains).
_BESIDE_RECIPE = {"recipe", "out", "data_root", "resume", "distribute", "mixed_precision"}


def _refuse_options_beside_recipe(ctx: typer.Context, recipe: str) -> None:
    """A recipe trains as written (its run and converted file name it); an option that would change that is refused,
    not silently dropped."""
    names = _given_options(ctx, besides=_BESIDE_RECIPE)
    if names:
        raise EdgesignError(f"--recipe {recipe} trains as the recipe is written; {names} would change it: copy the "
                            "recipe and edit its [train] section")


def _given_options(ctx: typer.Context, besides: set[str] = frozenset(), among: set[str] | None = None) -> str:
    """The command's options and arguments given on the command line (not left at their defaults), of those
    ``among`` (parameter names; default: all) but not ``besides``, as flags: ``--epochs, MODEL``; empty when none."""
    import click
    from click.core import ParameterSource

    given = [p for p in ctx.command.params if p.name not in besides and (among is None or p.name in among)
             and ctx.get_parameter_source(p.name) not in (None, ParameterSource.DEFAULT)]
    return ", ".join("/".join(p.opts + p.secondary_opts) if isinstance(p, click.Option) else p.name.upper()
                     for p in given)


def _recipe_hand_stage(wanted: bool) -> dict | None:
    """The hand stage a hand-crop model trains with: the landmark recipe's (selected leave-one-signer-out)."""
    if not wanted:
        return None
    from dataclasses import asdict

    from edgesign.training.landmarks import RECIPE_HAND_STAGE

    return asdict(RECIPE_HAND_STAGE)


def _refuse_repeated_data(data: list[str], test_data: list[str]) -> None:
    """One folder given twice would count as two signers (its photos twice), and held-out data that is also
    training data says nothing about new photos."""
    seen: dict[Path, str] = {}
    for option, path in [*(("--data", p) for p in data), *(("--test-data", p) for p in test_data)]:
        key = Path(path).resolve()
        if key in seen:
            why = ("held-out data must be other photos than the training data" if option == "--test-data"
                   and seen[key].startswith("--data") else "each is one signer's photos, counted once")
            raise EdgesignError(f"{option} {path} is {seen[key]} again: {why}")
        seen[key] = f"{option} {path}"


def _check_training_numbers(lr: float, val_fraction: float, label_smoothing: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise EdgesignError(f"--lr must be a positive number, got {lr}")
    if not 0 < val_fraction < 1:
        raise EdgesignError(f"--val-fraction must be between 0 and 1 (a fraction of the training data), got {val_fraction}")
    if not 0 <= label_smoothing < 1:
        raise EdgesignError(f"--label-smoothing must be in [0, 1), got {label_smoothing}")


def _list_models() -> None:
    """The registry, without TensorFlow."""
    from edgesign.training import get_spec, list_models

    for name in list_models():
        s = get_spec(name)
        shape = "hand landmarks" if s.inputs == "hand-landmarks" else f"{s.default_size}x{s.default_size}x{s.default_channels}"
        typer.echo(f"{name:20s} {shape:14s} {s.description}")


def _augment_option(text: str) -> dict:
    """``--augment``: default (the run's defaults), none, or a JSON object of options."""
    if text == "default":
        return {}
    if text == "none":
        from edgesign.training.augment import Augment

        return Augment.none().to_dict()
    return _parse_json(text, "--augment")


_LANDMARK_ONLY = {  # option -> (its flag, what an image model does instead)
    "mirror": ("--mirror/--no-mirror", "an image model flips with --augment '{\"flip\": true}'"),
    "nothing_hands": ("--nothing-hands/--no-nothing-hands", "an image model learns its Nothing folder as it is"),
    "flex": ("--flex", "an image model's augmentation is --augment"),
}


# what a landmark model takes of the image models' training options (option -> LandmarkConfig field); the others
# are refused for it, not dropped: its own defaults apply unless one of these is given
_LANDMARK_TAKES = {"batch_size": "batch_size", "lr": "learning_rate", "label_smoothing": "label_smoothing",
                   "val_fraction": "val_fraction"}
_IMAGE_ONLY = {"size", "channels", "patience", "val_split", "augment", "weights", "head", "fine_tune_epochs",
               "distribute", "mixed_precision", "hand_crop", "resume"}


def _landmark_training_options(ctx: typer.Context, model: str, values: dict) -> dict:
    """The image-model options given for a landmark model: refused when it has no use for them, else its config's."""
    refused = _given_options(ctx, among=_IMAGE_ONLY)
    if refused:
        raise EdgesignError(f"{refused}: for image models; {model} learns hand landmarks (it takes --epochs, --seed, "
                            "--batch-size, --lr, --label-smoothing, --val-fraction, --mirror, --nothing-hands, --flex)")
    return {field: values[name] for name, field in _LANDMARK_TAKES.items()
            if _given_options(ctx, among={name})}


def _refuse_options_the_model_lacks(ctx: typer.Context, model: str, weights: str | None) -> None:
    """An image model's options that only some models take (--head, --fine-tune-epochs, ImageNet weights): refused
    for the others, not dropped (or failed on) later."""
    import inspect

    from edgesign.training import get_spec, list_models

    spec = get_spec(model)
    transfer = ", ".join(m for m in list_models() if get_spec(m).transfer)
    if _given_options(ctx, among={"head"}) and "head" not in inspect.signature(spec.builder).parameters:
        heads = ", ".join(m for m in list_models() if "head" in inspect.signature(get_spec(m).builder).parameters)
        raise EdgesignError(f"--head: {model} has one head; it is for {heads}")
    if not spec.transfer and _given_options(ctx, among={"fine_tune_epochs"}):
        raise EdgesignError(f"--fine-tune-epochs: {model} trains in one stage; it is for the transfer models ({transfer})")
    if not spec.transfer and weights == "imagenet":
        raise EdgesignError(f"--weights imagenet: {model} has no ImageNet weights; they are for {transfer} "
                            "(other models start from a weights file or a run's model)")


def _refuse_landmark_options(options: dict) -> None:
    for name, value in options.items():
        if value is not None:
            flag, instead = _LANDMARK_ONLY[name]
            raise EdgesignError(f"{flag} is for landmark models; {instead}")


def _train_landmarks(model: str, data: List[str], test_data: List[str], out: Optional[str], epochs: int, seed: int,
                     options: dict) -> None:
    from edgesign.training.landmarks import LandmarkConfig, train_landmarks

    if options.get("flex") is not None and not 0 <= options["flex"] <= 45:
        raise EdgesignError(f"--flex {options['flex']:g}: give the joints' bend in degrees, 0 to 45 (the recipe: 12)")
    chosen = {k: v for k, v in options.items() if v is not None}  # unset: the recipe's default (LandmarkConfig)
    summary = train_landmarks(LandmarkConfig(data=list(data), test_data=list(test_data), out=out or f"runs/{model}",
                                             model=model, epochs=epochs, seed=seed, **chosen))
    typer.echo(f"best validation accuracy {100 * summary['best_val_accuracy']:.2f} % (epoch {summary['best_epoch']}, "
               f"{summary['seconds']:.0f} s)")
    for source, r in summary["held_out"].items():  # another signer may hold classes this run did not learn
        left = r.get("skipped_unknown_classes", 0)
        out_of = f" ({left} images of classes the model did not learn left out)" if left else ""
        if r["n"]:
            typer.echo(f"held-out {source}: pipeline accuracy {100 * r['accuracy']:.2f} % on {r['n']} images{out_of}")
        else:
            _echo_err(f"warning: held-out {source}: no image of a class the model learned, nothing measured{out_of}")
    typer.echo(f"run folder: {out or f'runs/{model}'}")


# ----------------------------------------------------------------------------- runtime commands

def _split_model_and_sources(args: list[str]) -> tuple[Optional[str], list[str]]:
    """`predict [MODEL] SOURCE...`: the first argument is the model when it is a .tflite file."""
    if args and args[0].endswith(".tflite"):
        return args[0], args[1:]
    return None, args


@app.command()
def predict(
    ctx: typer.Context,
    args: List[str] = typer.Argument(None, metavar="[MODEL.tflite] SOURCE...",
                                     help="[MODEL.tflite] then images, globs, folders, videos, .txt lists or - (stdin)."),
    camera: Optional[str] = typer.Option(None, "--camera", help="pi (Picamera2), an OpenCV device index, or a URL."),
    top: int = typer.Option(3, "-k", "--top", min=1, help="How many classes to show."),
    threshold: float = typer.Option(0.0, "--threshold", help="Hide classes below this probability (the best class is always shown)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per image or frame."),
    smooth: int = typer.Option(5, "--smooth", min=1, help="Streams: mean of the last N probability vectors."),
    spell: bool = typer.Option(False, "--spell", help="Streams: fingerspelling reader (letters, Space, Del)."),
    stable: int = typer.Option(8, "--stable", min=1, help="--spell: frames a sign must stay on top to be typed."),
    spell_threshold: Optional[float] = typer.Option(None, "--spell-threshold", help="--spell: the least "
                                                    "probability a frame's top class needs to count towards --stable "
                                                    "[default: 0.3]."),
    letters: str = typer.Option("en", "--letters", help="--spell: what likely comes next in a word weighs each frame "
                                "(en: English words, shipped; none: the classifier alone; or a .json made by "
                                "python -m training.letter_counts --words FILE)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Streams: a camera stops after N frames, each video gives its first N."),
    backend: str = BACKEND,
    threads: Optional[int] = THREADS,
    device: str = typer.Option("auto", "--device", help="cpu, edgetpu, or auto (edgetpu for *_edgetpu.tflite)."),
    serve: Optional[str] = typer.Option(None, "--serve", help="Show what the camera sees in a browser: PORT (every "
                                        "interface: a headless Pi seen from a laptop; the printed address carries a "
                                        "token, $EDGESIGN_SERVE_TOKEN fixes it) or HOST:PORT; the frames with the "
                                        "hand, label and text drawn at /, MJPEG at /stream, JSON at /latest.json."),
    save: Optional[str] = typer.Option(None, "--save", help="Write each image/frame with the hand, its landmarks "
                                       "and the label drawn into this folder."),
    hand_models: Optional[str] = typer.Option(None, "--hand-models", help="Folder holding the MediaPipe hand models "
                                              "(offline devices; default: $EDGESIGN_HAND_MODELS or the user cache)."),
    labels: Optional[str] = LABELS, input_range: Optional[str] = INPUT_RANGE, mean: Optional[str] = MEAN,
    std: Optional[str] = STD, resize: Optional[str] = RESIZE,
) -> None:
    """Classify images, videos or a camera with a .tflite model (the shipped model by default).

    The model, when given, comes first: edgesign predict [MODEL.tflite] SOURCE... A SOURCE is an image, a folder
    (recursively), a glob, a video file, a .txt list of paths, or - for paths on standard input.
    """
    from .predict import run_predict

    check_output(save, "dir", "--save")

    for name, value in (("--threshold", threshold), ("--spell-threshold", spell_threshold)):
        if value is not None and not 0.0 <= value <= 1.0:  # NaN fails this too
            raise EdgesignError(f"{name} must be a probability between 0 and 1, got {value}")
    model_path, sources = _split_model_and_sources(list(args or []))
    if not sources and not camera:
        raise EdgesignError("nothing to predict: give image/video paths or --camera")
    reader_options = _given_options(ctx, among={"letters", "spell_threshold"})
    if not spell and reader_options:
        raise EdgesignError(f"{reader_options}: for --spell (the reader that types letters)")
    _refuse_stream_options_for_photos(ctx, sources, camera)
    with _preview(serve) as preview:
        _print_predictions(run_predict(model_path, sources, camera=camera, k=top, threshold=threshold, smooth=smooth,
                                       spell=spell, stable=stable, spell_threshold=spell_threshold, letters=letters,
                                       max_frames=max_frames, backend=backend, threads=threads, device=device,
                                       save=save, hand_models=hand_models, preview=preview,
                                       overrides=_overrides(labels, input_range, mean, std, resize)),
                           spell, as_json)


@contextmanager
def _preview(serve: str | None):
    """``--serve``: the browser preview while the command runs (None without the option), bound before the model
    loads (a port in use is one error line), closed however the command ends."""
    if serve is None:
        yield None
        return
    from .preview import Preview, parse_address

    preview = Preview(parse_address(serve))
    _echo_err(f"preview: {preview.url} (the frames are drawn while a browser watches)")
    try:
        yield preview
    finally:
        preview.close()


def _print_predictions(results, spell: bool, as_json: bool) -> None:
    """A line (or JSON object) per image or frame; with --spell, each video's text when it ends. With --spell on a
    terminal, a stream's frames update one status line instead (a camera's 30 lines a second cannot be read)."""
    typed = spell and not as_json
    live = typed and sys.stdout.isatty()
    last, stream, streamed, interrupted = None, None, False, False
    try:
        for last in results:
            if stream is not None and last.get("frame", 0) == 0:  # the stream before has ended (a still has no frame)
                _end_status(live)
                if typed:
                    typer.echo(f"text: {stream.get('text', '')}")
            stream = last if "frame" in last else None
            streamed = streamed or stream is not None
            if "error" in last and not as_json:
                _echo_err(f"warning: {last['source']}: {last['error']}")
            elif live and stream is not None:
                _status(_format_status(last))
            else:
                typer.echo(json.dumps(last) if as_json else _format_prediction(last))
            if "first_inference_ms" in last:
                _echo_err(f"first inference on the Edge TPU {last['first_inference_ms']:.1f} ms "
                          "(loads the model onto the TPU; later ones are fast)")
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:  # a camera that stops, or Ctrl-C: its line ends before the error's
        _end_status(live and stream is not None)
        if interrupted and typed and stream is not None:  # Ctrl-C is how a camera ends: what was signed, said
            typer.echo(f"text: {stream.get('text', '')}")
    if typed and last is not None and (stream is not None or not streamed):  # photos alone: the (empty) text as before
        typer.echo(f"text: {last.get('text', '')}")


def _format_status(result: dict) -> str:
    """A stream frame as the terminal's status line: the text first, so a narrow terminal clips the rest."""
    top = ", ".join(f"{t['label']} {t['probability']:.2f}" for t in result["top"])
    return f"text: {result.get('text', '')!r}   {top}   {result['fps']:.0f} fps   {result['source']}"


def _status(line: str) -> None:
    """Rewrite the terminal's current line (clipped to its width, so that it never wraps)."""
    import shutil

    width = shutil.get_terminal_size().columns - 1
    sys.stdout.write("\r" + line[:width] + "\x1b[K")
    sys.stdout.flush()


def _end_status(live: bool) -> None:
    if live:
        sys.stdout.write("\n")


_STREAM_ONLY = {"smooth", "spell", "stable", "spell_threshold", "letters", "max_frames"}


def _refuse_stream_options_for_photos(ctx: typer.Context, sources: list[str], camera: str | None) -> None:
    """--spell and the stream options (``_STREAM_ONLY``) with photos alone would be ignored: refused instead. The
    sources are looked through (folders, globs, lists) for a video first; paths on standard input cannot be read
    twice, so ``-`` is given the benefit of the doubt."""
    from .sources import expand_images, is_video

    names = _given_options(ctx, among=_STREAM_ONLY)
    if not names or camera or "-" in sources or any(is_video(p) for p in expand_images(sources)):
        return
    raise EdgesignError(f"{names}: for a video or a camera; photos are classified one by one")


def _format_prediction(result: dict) -> str:
    line = f"{result['source']}: " + ", ".join(f"{t['label']} {t['probability']:.3f}" for t in result["top"])
    if "fps" in result:
        line += f"  ({result['fps']:.1f} fps)"
    if "text" in result:
        line += f"  text: {result['text']!r}"
    return line


@app.command()
def info(
    model: Optional[str] = typer.Argument(None, metavar="[MODEL.tflite]", help="A .tflite model (default: the shipped model)."),
    backend: str = BACKEND,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    hand_models: Optional[str] = typer.Option(None, "--hand-models", help="Folder holding the MediaPipe hand models."),
) -> None:
    """What MODEL.tflite is (the shipped model by default): inputs, outputs, quantization, operators, metadata,
    certificate, size, Edge TPU compatibility."""
    from .certify import format_certificate
    from .inspect import edgetpu_compatibility, operator_histogram, tensor_summary
    from .runtime import EdgeModel, open_model

    m = open_model(model, backend=backend, device="cpu", warn=False, hand_models=hand_models)
    if not isinstance(m, EdgeModel):
        _info_pipeline(m, as_json)
        return
    content = m.path.read_bytes()
    ops = operator_histogram(content)
    tpu = edgetpu_compatibility(content) if ops else None
    if as_json:
        typer.echo(json.dumps({"model": str(m.path), "size_bytes": m.size_bytes, "backend": m.backend.name,
                               "inputs": [tensor_summary(d) for d in m.interpreter.get_input_details()],
                               "outputs": [tensor_summary(d) for d in m.interpreter.get_output_details()],
                               "operators": dict(ops), "metadata": m.metadata, "edgetpu": tpu}, indent=2))
        return
    typer.echo(f"model     {m.path} ({m.size_bytes / 1e6:.2f} MB)")
    typer.echo(f"backend   {m.backend.name}")
    for d in m.interpreter.get_input_details():
        typer.echo(f"input     {tensor_summary(d)}")
    for d in m.interpreter.get_output_details():
        typer.echo(f"output    {tensor_summary(d)}")
    typer.echo("operators " + (", ".join(f"{k} x{v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))
                               or "(listing them needs ai-edge-litert)"))
    if m.metadata:
        p = m.preprocess
        typer.echo(f"preprocess {p.height}x{p.width}x{p.channels}, {p.resize}, scaling {p.scaling}")
        typer.echo(f"labels    {len(m.labels)}: {' '.join(m.labels)}")
        typer.echo(f"target    {m.metadata.get('target')}  (model {m.metadata.get('model')}, {m.metadata.get('created')})")
        typer.echo(format_certificate(m.certificate, m.certificate_status))
    else:
        typer.echo("metadata  none (labels are indices; input scaled to [0, 1])")
    if tpu is None:
        typer.echo("edgetpu   not checked: reading operators needs ai-edge-litert")
    else:
        typer.echo("edgetpu   " + ("every operator maps to the Edge TPU" if tpu["all_supported"] else
                                   "would not map: " + "; ".join(tpu["problems"])))


def enrol(
    ctx: typer.Context,
    out: str = typer.Option(..., "-o", "--out", help="The personal model file to write (.tflite)."),
    base: Optional[str] = typer.Option(None, "--base", help="A hand pipeline model, or a personal file to extend "
                                       "(default: the shipped model)."),
    source_folder: Optional[str] = typer.Option(None, "--from", help="The user's photos or videos: one folder "
                                              "per letter (pictures spread over each folder, or over its video's "
                                              "frames, are taken, the last ones as the check)."),
    camera: Optional[str] = typer.Option(None, "--camera", help="pi (Picamera2), an OpenCV device index, a URL or a video."),
    letters: Optional[str] = typer.Option(None, "--letters", help="Comma-separated letters to enrol or redo "
                                          "(default: every folder, or every class for a camera)."),
    frames: int = typer.Option(10, "--frames", min=1, help="Frames per letter to learn from."),
    holdback: int = typer.Option(3, "--check", min=1, help="Further frames per letter held back as the user's own check."),
    pause: float = typer.Option(2.0, "--pause", help="Camera: seconds between naming a letter and capturing it."),
    steady: float = typer.Option(0.05, "--steady", help="Camera: most landmark motion between frames, as a fraction "
                                 "of the hand's size, that counts as a steady hand."),
    gap: int = typer.Option(5, "--gap", min=0, help="Camera: steady frames skipped between two taken ones, so the "
                            "frames show the hand a little moved, not one instant."),
    save: Optional[str] = typer.Option(None, "--save", help="Write every captured frame, hand drawn, into this folder."),
    serve: Optional[str] = typer.Option(None, "--serve", help="Camera: show it in a browser while it captures, the "
                                        "hand drawn and the frames taken counted (PORT or HOST:PORT, as predict)."),
    hand_models: Optional[str] = typer.Option(None, "--hand-models", help="Folder holding the MediaPipe hand models."),
    frames_from: Optional[str] = typer.Option(None, "--frames-from", help="Another personal file: fit its "
                                              "enrolment frames (landmarks) again on --base, a new base model "
                                              "with the same hand stage; nothing is captured."),
    hand: Optional[str] = typer.Option(None, "--hand", help="The hand you sign with: right, left, or auto (each "
                                       "frame's own handedness score). Default: the frames decide (70 % read as one "
                                       "hand), or, extending, the hand the file was enrolled with."),
) -> None:
    """Learn the user's own hand: capture letters, refit on the device (numpy), write one personal model file."""
    from .enrol_session import run_enrolment

    capture = _given_options(ctx, besides={"out", "base", "frames_from", "hand", "hand_models", "source_folder",
                                           "camera"})
    if frames_from and capture:
        raise EdgesignError(f"--frames-from fits the frames a personal file keeps, as they were taken; {capture} "
                            "are for a capture")
    camera_only = _given_options(ctx, among={"pause", "steady", "gap", "serve"})
    if source_folder and camera_only:
        raise EdgesignError(f"{camera_only}: for a camera; --from takes photos spread over each letter's folder")

    check_output(out, "file")
    check_output(save, "dir", "--save")

    wanted = [x.strip() for x in letters.split(",") if x.strip()] if letters else None
    with _preview(serve) as preview:
        r = run_enrolment(base, out, source_folder=source_folder, camera=camera, letters=wanted, frames=frames,
                          holdback=holdback, save=save, pause=pause, steady=steady, gap=gap,
                          hand_models=hand_models, hand=hand, frames_from=frames_from, preview=preview)
    _print_enrolment(r)
    if "interrupted_before" in r:  # Ctrl-C after some letters: they are written, the rest can be added to the file
        import shlex

        rest = r["interrupted_before"]
        again = ["edgesign", "enrol", "--base", r["output"], *(["--camera", camera] if camera else
                                                               ["--from", source_folder]),
                 *(["--letters", ",".join(rest)] if rest else []), "-o", r["output"]]
        _echo_err(f"the letters taken are in {r['output']}; go on with: {shlex.join(again)}")
        raise typer.Exit(130)


def _print_enrolment(r: dict) -> None:
    """What the enrolment did and how the user's own held-back frames read."""
    c = r["check"]
    typer.echo(f"enrolled {len(r['letters'])} letters, {r['frames']} frames ({r['dropped_no_hand']} without a hand "
               f"dropped), refit {r['refit_seconds']:.2f} s")
    typer.echo(f"signing hand: {_hand_line(r['hand'], r['right_share'])}")
    typer.echo(f"your held-back frames: {100 * c['accuracy']:.2f} % (the base model: {100 * c['base_accuracy']:.2f} %) "
               f"on {c['n']} frames")
    if r["warnings"]:
        typer.echo(f"{len(r['warnings'])} letter(s) read as another letter by the base model: see the warnings above")
    if c["accuracy"] < c["base_accuracy"]:
        typer.echo("warning: the base model reads your held-back frames better than the personal file: enrol only "
                   "the letters it misses (--letters), or give more varied frames of each")
    weak = sorted(c["per_letter"].items(), key=lambda kv: (kv[1]["personal"], -kv[1]["base"]))[:5]
    typer.echo("weakest letters: " + ", ".join(f"{k} {100 * v['personal']:.0f} % (base {100 * v['base']:.0f} %)"
                                              for k, v in weak))
    typer.echo(f"wrote {r['output']}")


def _hand_line(hand: str, right_share: float | None) -> str:
    share = f" ({100 * right_share:.0f} % of the frames taken read as a right hand)" if right_share is not None else ""
    return (f"{hand}, every hand is taken as one" if hand in ("right", "left") else
            "auto, each frame's handedness score decides") + share


app.command("enrol")(enrol)
app.command("enroll", hidden=True)(enrol)


def _revision_line(revision: int | None) -> str:
    from .hands import STAGE_REVISION

    if revision is None:
        return f"made before files recorded the stage's revision (this edgesign runs revision {STAGE_REVISION})"
    same = "the one this edgesign runs" if revision == STAGE_REVISION else f"this edgesign runs {STAGE_REVISION}"
    return f"made with revision {revision} of the stage's arithmetic ({same})"


def _info_pipeline(m, as_json: bool) -> None:
    from .certify import format_certificate
    from .hands import LIGHT_MODES
    from .inspect import operator_histogram, tensor_summary

    stage = m.metadata["hand_stage"]
    ops = operator_histogram(m.path.read_bytes())
    if as_json:
        typer.echo(json.dumps({"model": str(m.path), "size_bytes": m.size_bytes, "backend": m.backend.name,
                               "pipeline": True, "operators": dict(ops), "metadata": m.metadata}, indent=2))
        return
    typer.echo(f"model     {m.path} ({m.size_bytes / 1e3:.1f} kB): a hand pipeline, two stages")
    typer.echo(f"backend   {m.backend.name}")
    typer.echo(f"stage 1   hand stage from {stage['source']['package']} ({stage['source']['license']}), CPU only")
    for name, digest in stage["files"].items():
        typer.echo(f"          {name}  sha256 {digest[:16]}...")
    s = stage["settings"]
    zoom = f", then again zoomed out by {s['zoom_out']:g}" if s.get("zoom_out") else ""
    if s.get("light", "none") != "none":
        typer.echo(f"          light: {s['light']} ({LIGHT_MODES[s['light']]})")
    typer.echo(f"          palm score >= {s['min_palm_score']}{zoom}, hand presence >= {s['min_presence']}; "
               f"{stage['handedness']}; no hand -> {stage['no_hand']}")
    typer.echo(f"          {_revision_line(stage.get('revision'))}")
    if stage.get("input") == "crop":
        c = stage["crop"]
        takes = (f"the hand crop (square around the landmarks, {c['padding']:.0%} padding, {c['size']} px, then "
                 f"{m.preprocess.height}x{m.preprocess.width}x{m.preprocess.channels})")
    else:
        takes = f"{stage['features']} landmark features"
    typer.echo(f"stage 2   {m.metadata.get('model')} on {takes}, target {m.metadata.get('target')}")
    typer.echo(f"input     {tensor_summary(m.interpreter.get_input_details()[0])}")
    typer.echo(f"output    {tensor_summary(m.interpreter.get_output_details()[0])}")
    typer.echo("operators " + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1])))
    typer.echo(f"labels    {len(m.labels)}: {' '.join(m.labels)}")
    if m.metadata.get("trained_on"):
        typer.echo("trained   " + ", ".join(m.metadata["trained_on"]))
    typer.echo(format_certificate(m.certificate, m.certificate_status))
    personal = m.metadata.get("personal")
    if personal:
        c = personal["check"]
        typer.echo(f"personal  enrolled {personal['created']} on {len(personal['frames'])} letters, "
                   f"{sum(personal['frames'].values())} frames; base {personal['base']['model']} "
                   f"(weights sha256 {personal['base']['weights_sha256'][:12]})")
        typer.echo(f"          held-back check {100 * c['accuracy']:.2f} % (base {100 * c['base_accuracy']:.2f} %) "
                   f"on {c['n']} frames; the certificate above is the base model's")
        typer.echo(f"          signing hand: {_hand_line(personal.get('hand', 'auto'), personal.get('right_share'))}")


@app.command()
def evaluate(
    model: str = typer.Argument(..., metavar="[MODEL.tflite]", help="A .tflite model (default: the shipped model)."),
    data: Optional[str] = typer.Argument(None, metavar="DATA", help="Class folders, Sign MNIST .csv or SIGNS .h5."),
    out: Optional[str] = typer.Option(None, "-o", "--out", help="Folder for eval_metrics.json and the confusion PNG."),
    split: str = typer.Option("auto", "--split", help="HDF5 split: train, test or auto."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics (what eval_metrics.json holds, and the "
                                 "files written) as JSON instead of text."),
    backend: str = BACKEND,
    threads: Optional[int] = THREADS,
    hand_models: Optional[str] = typer.Option(None, "--hand-models", help="Folder holding the MediaPipe hand models."),
    labels: Optional[str] = LABELS, input_range: Optional[str] = INPUT_RANGE, mean: Optional[str] = MEAN,
    std: Optional[str] = STD, resize: Optional[str] = RESIZE,
) -> None:
    """Accuracy, per-class accuracy and a confusion matrix (PNG and JSON) on a dataset (class folders match in any
    case and may be a subset of the model's classes). The model, when given, comes first: edgesign evaluate
    [MODEL.tflite] DATA."""
    from .api import evaluate_model

    if data is None:  # one argument: the data, for the shipped model
        if model.lower().endswith(".tflite"):
            raise EdgesignError(f"which data? edgesign evaluate {model} DATA (class folders, a .csv or a .h5)")
        model, data = None, model
    check_output(out, "dir")
    if split not in ("auto", "train", "test"):
        raise EdgesignError(f"--split {split}: train, test or auto (an HDF5 file's parts)")
    if split != "auto" and Path(data).suffix.lower() not in (".h5", ".hdf5"):
        raise EdgesignError(f"--split {split}: for a SIGNS .h5 file, which holds a train and a test part; {data} has "
                            "no parts")

    metrics, files = evaluate_model(model, data, out_dir=out, split=split, backend=backend, threads=threads,
                                    hand_models=hand_models, overrides=_overrides(labels, input_range, mean, std, resize))
    if as_json:
        typer.echo(json.dumps({**metrics.to_dict(), "skipped": metrics.skipped,
                               "files": {k: str(v) for k, v in files.items()}}, indent=2))
    else:
        typer.echo(f"accuracy {100 * metrics.accuracy:.2f} % on {metrics.n} images of {metrics.data}")
        worst = sorted(metrics.per_class.items(), key=lambda kv: kv[1])[:5]
        typer.echo("weakest classes: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in worst))
        for path in files.values():
            typer.echo(f"wrote {path}")
    if metrics.skipped:
        raise EdgesignError(f"{len(metrics.skipped)} file(s) could not be read and are not in the figures: "
                            + ", ".join(Path(f).name for f in metrics.skipped[:5]))


@app.command()
def benchmark(
    models: Optional[List[str]] = typer.Argument(None, help="One or more .tflite models (default: the shipped model)."),
    data: Optional[str] = typer.Option(None, "--data", help="Also measure accuracy on this dataset."),
    runs: int = typer.Option(200, "--runs", min=1, help="Timed runs per model."),
    warmup: int = typer.Option(20, "--warmup", min=0, help="Untimed runs first."),
    backend: str = BACKEND,
    threads: Optional[int] = THREADS,
    device: str = typer.Option("auto", "--device"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    min_accuracy: Optional[float] = typer.Option(None, "--min-accuracy", help="Fail (exit 1) below this accuracy (0-1)."),
    profile: bool = typer.Option(False, "--profile", help="Also time each .tflite the model runs (a hand pipeline: "
                                 "its three stages) with LiteRT's own litert-benchmark, side by side."),
    labels: Optional[str] = LABELS, input_range: Optional[str] = INPUT_RANGE, mean: Optional[str] = MEAN,
    std: Optional[str] = STD, resize: Optional[str] = RESIZE,
) -> None:
    """Latency (min/p50/p90/p99), first inference, load time, FPS, peak RSS, size and accuracy."""
    from .benchmark import accuracy_failure, format_profile, format_table, still_image_line
    from .benchmark import benchmark as run_benchmark
    from .benchmark import profile as profile_stages
    from .certify import validate_floor
    from .errors import GateFailed

    min_accuracy = validate_floor(min_accuracy)
    if min_accuracy is not None and not data:
        raise EdgesignError("--min-accuracy needs --data")
    from dataclasses import asdict

    overrides = {k: v for k, v in asdict(_overrides(labels, input_range, mean, std, resize)).items() if v is not None}
    rows = run_benchmark(models or [None], runs=runs, warmup=warmup, data=data, backend=backend, threads=threads, device=device,
                         overrides=overrides)
    stages = [r for m in rows for r in profile_stages(m["model"], runs, warmup, threads)] if profile else []
    if as_json:
        typer.echo(json.dumps({"models": rows, "profile": stages} if profile else rows, indent=2))
    else:
        notes = [still_image_line(r) for r in rows if "still_image" in r]
        typer.echo(format_table(rows) + "".join("\n" + n for n in notes)
                   + ("\n\n" + format_profile(stages, rows) if profile else ""))
    failure = accuracy_failure(rows, min_accuracy)
    if failure:
        raise GateFailed(failure)


# ----------------------------------------------------------------------------- conversion

@app.command()
def convert(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="An edgesign run folder, a .keras/.h5 file (tf_keras or Keras 3), a "
                                 "SavedModel folder, or a float .tflite (quantized without TensorFlow)."),
    out: Optional[str] = typer.Option(None, "-o", "--out", help="Output .tflite (a JSON report is written next to it)."),
    target: Optional[str] = typer.Option(None, "--target", help="One of: " + target_help()
                                         + ". Default: float32, or what --int8/--prune/--qat/--edgetpu imply."),
    int8: bool = typer.Option(False, "--int8", help="Full int8, calibrated on real images."),
    prune: Optional[float] = typer.Option(None, "--prune", help="Target sparsity (0-1), with --int8 or --qat."),
    qat: bool = typer.Option(False, "--qat", help="Quantization-aware training before conversion."),
    edgetpu: bool = typer.Option(False, "--edgetpu", help="Then the Edge TPU compiler (needs --int8)."),
    calib: Optional[str] = typer.Option(None, "--calib", help="Calibration images (training data, never test data)."),
    calib_size: int = typer.Option(300, "--calib-size", min=1, help="Stratified sample size for calibration "
                                 "(a folder holding fewer calibrates on all it holds, unless this is given)."),
    eval_data: Optional[str] = typer.Option(None, "--eval", help="Held-out data for the float vs converted gate."),
    max_drop: Optional[float] = typer.Option(None, "--max-drop", help="Accuracy budget in points; exceeded -> exit 1."),
    min_accuracy: Optional[float] = typer.Option(None, "--min-accuracy",
                                               help="Floor (0-1) on the converted model's --eval accuracy; under it -> exit 1."),
    auto: bool = typer.Option(False, "--auto", help="If the budget is missed: larger calibration, QAT, float layers."),
    io: Optional[str] = typer.Option(None, "--io", help="Integer models: int8, uint8 or float32 input/output "
                                     "(default: int8; edgetpu: uint8)."),
    train_data: Optional[str] = typer.Option(None, "--train-data", help="Fine-tune data for pruning/QAT (default: --calib)."),
    finetune_epochs: int = typer.Option(2, "--finetune-epochs", min=0, help="Epochs of the pruning/QAT fine-tune."),
    labels: Optional[str] = LABELS, input_range: Optional[str] = INPUT_RANGE, mean: Optional[str] = MEAN,
    std: Optional[str] = STD, resize: Optional[str] = RESIZE,
    summary: Optional[str] = SUMMARY, junit: Optional[str] = JUNIT,
) -> None:
    """Convert SOURCE to TFLite and certify it: float vs converted accuracy on held-out data.

    SOURCE is an edgesign run folder, a .keras/.h5 file (tf_keras or Keras 3), a SavedModel folder or a float
    .tflite. A foreign model's preprocessing is given with --input-range or --mean/--std (and --labels).
    """
    from .certify import validate_budget, validate_floor
    from .extras import require_train

    for path, kind, option in ((out, "file", "-o"), (summary, "file", "--summary"), (junit, "file", "--junit")):
        check_output(path, kind, option)
    source = _run_of_model_file(source)

    budget, floor = validate_budget(max_drop), validate_floor(min_accuracy)
    if prune is not None and not 0 < prune < 1:  # NaN fails this too
        raise EdgesignError(f"--prune must be a sparsity between 0 and 1 (0.5: half the weights zero), got {prune}")
    if budget is not None and not eval_data:
        raise EdgesignError("--max-drop needs held-out data to measure the drop on: pass --eval DIR "
                            "(without it nothing is certified, and a CI gate would always pass)")
    if not source.endswith(".tflite"):  # a float .tflite is quantized without TensorFlow
        require_train("edgesign convert")
    from edgesign.converters.convert import ConvertOptions, convert_model
    from edgesign.targets import resolve_target

    tgt = resolve_target(target, int8=int8, prune=prune, qat=qat, edgetpu=edgetpu)
    from edgesign.training.landmarks import load_config

    landmark_cfg = load_config(Path(source)) if Path(source).is_dir() else None
    if landmark_cfg is not None:
        from edgesign.converters.landmarks import convert_landmark_run

        refused = _given_options(ctx, among=_NOT_FOR_LANDMARK_RUNS)
        if refused:
            raise EdgesignError(f"{refused}: not for a landmark run (its classifier calibrates on its own training "
                                "photos' landmarks, --calib-size of them, keeps float input and output, and has no "
                                "fine-tuning steps or preprocessing to give)")
        report = convert_landmark_run(Path(source), landmark_cfg, tgt, Path(out) if out else None, eval_data,
                                      calib_size, budget, floor,
                                      on_report=lambda report: _convert_summaries(report, summary, junit))
        typer.echo(f"wrote {report['output']} and {Path(report['output']).with_suffix('.report.json')}")
        return
    _warn_unused_convert_options(ctx, tgt, auto)
    report = convert_model(source, ConvertOptions(
        target=tgt, calib_data=calib, calib_size=calib_size,
        calib_size_given=bool(_given_options(ctx, among={"calib_size"})), eval_data=eval_data, max_drop=budget, min_accuracy=floor,
        out=out, io_type=io, sparsity=prune or 0.5, finetune_epochs=finetune_epochs, train_data=train_data, auto=auto,
        overrides=_overrides(labels, input_range, mean, std, resize),
        on_report=lambda report: _convert_summaries(report, summary, junit)))
    typer.echo(f"wrote {report['output']} ({report['sizes']['bytes_with_metadata'] / 1e6:.2f} MB) and "
               f"{Path(report['output']).with_suffix('.report.json')}")


def _run_of_model_file(source: str) -> str:
    """A run folder's own ``model.keras`` stands for its run: read alone it has no preprocessing, labels or (for a
    landmark run) features, and was converted as a foreign model whose input range is guessed."""
    p = Path(source)
    if p.name == "model.keras" and p.is_file() and (p.parent / "config.json").is_file():
        _echo_err(f"note: {source} is run {p.parent}'s model: converting the run (its preprocessing and labels)")
        return str(p.parent)
    return source


def _warn_unused_convert_options(ctx: typer.Context, tgt, auto: bool) -> None:
    """Calibration options for a target that is not calibrated, fine-tuning ones with nothing to fine-tune: said, not
    dropped without a word. A warning, not a refusal: one command line looped over the targets is a fair use."""
    unused = set() if tgt.calibrated else {"calib", "calib_size"}
    if not (tgt.prune or tgt.qat or auto):
        unused |= {"train_data", "finetune_epochs"}
    names = _given_options(ctx, among=unused)
    if names:
        _echo_err(f"warning: {names}: not used by target {tgt.name} (calibration is for the int8 targets, "
                  "fine-tuning for --prune, --qat and --auto)")


# convert's options a landmark run has no use for: refused, not dropped without a word
_NOT_FOR_LANDMARK_RUNS = {"calib", "io", "train_data", "finetune_epochs", "auto", "labels", "input_range", "mean", "std",
                          "resize"}


def _convert_summaries(report: dict, summary: Optional[str], junit: Optional[str]) -> None:
    """convert's gate for CI: a summary and JUnit XML, and a warning that cannot be missed without --eval."""
    import os

    from .certify import gate_failure
    from .ci_report import write_gate_reports

    title = f"edgesign convert {report['source']} ({report['target']})"
    result = None
    if "evaluation" in report:
        result = {**report["evaluation"], "max_drop": report["max_drop"], "min_accuracy": report["min_accuracy"],
                  "passed": report["passed"]}
        result["failure"] = gate_failure(result, report["max_drop"], title, report["min_accuracy"])
    elif os.environ.get("CI"):
        _echo_err("warning: no --eval: this model is NOT certified, and nothing gated it (a CI step that means to "
                  "gate must pass --eval DIR --max-drop X)")
    write_gate_reports(result, title, markdown=summary, junit=junit)


@app.command()
def check(
    model: str = typer.Argument(..., help="The converted .tflite model."),
    against: str = typer.Option(..., "--against", help="The float model: a run folder, Keras file or float .tflite "
                                "(for a hand pipeline: its landmark run folder or a float pipeline .tflite)."),
    data: str = typer.Option(..., "--data", help="Held-out data."),
    max_drop: float = typer.Option(..., "--max-drop", help="Budget in accuracy points; exceeded -> exit 1."),
    min_accuracy: Optional[float] = typer.Option(None, "--min-accuracy", help="Floor (0-1) on the model's accuracy."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    summary: Optional[str] = SUMMARY, junit: Optional[str] = JUNIT,
) -> None:
    """Re-run the accuracy gate for an existing (quantized, float) pair: the CI check."""
    from .api import check_pair

    check_output(summary, "file", "--summary")
    check_output(junit, "file", "--junit")
    from .certify import format_comparison, format_pass
    from .errors import GateFailed

    reference = feature_reference = shape = None
    if not against.endswith(".tflite"):
        from .extras import require_train

        require_train(f"checking against the Keras model {against}")
        from edgesign.training.landmarks import feature_probabilities, load_config

        feature_reference = feature_probabilities(against)
        if feature_reference is None:
            from edgesign.converters.float_models import load_float_model

            float_model = load_float_model(against)
            reference, shape = float_model.probabilities, (float_model.input_shape, float_model.n_classes)
        else:
            shape = (None, len(load_config(Path(against))["classes"]))
    result = check_pair(model, against, data, max_drop, min_accuracy, reference=reference,
                        feature_reference=feature_reference, reference_shape=shape)
    _echo_err(format_comparison(result, result["against"], result["model"]))
    from .ci_report import write_gate_reports

    write_gate_reports(result, f"edgesign check {result['model']} against {result['against']}", markdown=summary,
                       junit=junit)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    if not result["passed"]:
        raise GateFailed(result["failure"])
    _echo_err(format_pass(result, result["max_drop"], result["min_accuracy"]))


def _parse_json(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise EdgesignError(f"{option} expects JSON, got {text!r}") from None
    if not isinstance(value, dict):
        raise EdgesignError(f"{option} expects a JSON object")
    return value


def _usage_error_type() -> type:
    """Click's usage-error base: typer-slim < 0.20 uses click itself, later typers vendor it."""
    vendored = getattr(typer, "TyperException", None)
    if vendored is not None:
        return vendored
    from click.exceptions import ClickException

    return ClickException


_USAGE_ERROR = _usage_error_type()


def _verbose_first(args: list[str]) -> list[str]:
    """``--verbose`` is edgesign's own option, but people put it after the command (``edgesign predict --verbose
    a.jpg``): it is moved before the command, where it is read (after ``--``, an argument stays an argument)."""
    end = args.index("--") if "--" in args else len(args)
    if "--verbose" not in args[:end]:
        return args
    return ["--verbose", *(a for i, a in enumerate(args) if a != "--verbose" or i > end)]


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: user errors end with one line on stderr and a non-zero exit, never a traceback."""
    try:
        rc = app(args=_verbose_first(sys.argv[1:] if argv is None else list(argv)), standalone_mode=False)
    except EdgesignError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _echo_err("aborted")
        sys.exit(130)
    except _USAGE_ERROR as exc:  # usage errors: bad option, missing argument, unknown command
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `edgesign`: the help was shown, nothing went wrong
            sys.exit(0)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "edgesign"
        _echo_err(f"error: {exc.format_message()} (see '{where} --help')")
        sys.exit(2)
    except KeyboardInterrupt:
        rc = 130
    if rc == 130:  # Ctrl-C: Typer turns a KeyboardInterrupt inside a command into this exit code
        _echo_err("interrupted")
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
