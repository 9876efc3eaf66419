"""Errors a user can cause end with one line naming the problem and a non-zero exit, never a traceback."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, run_cli
from PIL import Image


def assert_user_error(r, *needles, code=2):
    assert r.returncode == code, (r.returncode, r.stdout[-1000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), r.stderr[-2000:]
    for n in needles:
        assert n in last, last


# --- runtime (no TensorFlow) -------------------------------------------------------------------

def test_missing_and_broken_models(tmp_path, asl_test):
    photo = asl_test / "A" / "A1.jpg"
    assert_user_error(run_cli("predict", tmp_path / "nope.tflite", photo), "model not found")
    text = tmp_path / "notes.tflite"
    text.write_text("hello, I am not a model" * 10)
    assert_user_error(run_cli("predict", text, photo), "not a TFLite model")
    assert_user_error(run_cli("info", text), "not a TFLite model")


def test_corrupt_tflite(e2e, tmp_path, asl_test):
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(e2e["int8"].read_bytes()[:5000])
    assert_user_error(run_cli("predict", corrupt, asl_test / "A" / "A1.jpg"))


def test_bad_images(e2e, tmp_path):
    (tmp_path / "a.jpg").write_text("not a jpeg")
    assert_user_error(run_cli("predict", e2e["int8"], tmp_path / "a.jpg"), "cannot decode")
    assert_user_error(run_cli("predict", e2e["int8"], tmp_path / "missing.jpg"), "not found")
    big = tmp_path / "huge.png"
    Image.new("L", (10_000, 10_000)).save(big)
    assert_user_error(run_cli("predict", e2e["int8"], big), "too large")


def test_a_broken_image_in_a_folder_is_listed_and_predict_goes_on(e2e, tmp_path, asl_test):
    # predict decodes the next image on a worker thread: the bad one is reported in order, the rest still run,
    # and the command ends with one error line naming it (exit 2), as evaluate does
    for i, name in enumerate(("A1.jpg", "A2.jpg", "A3.jpg")):
        (tmp_path / f"{i}.jpg").write_bytes((asl_test / "A" / name).read_bytes())
    (tmp_path / "1b.jpg").write_bytes((asl_test / "A" / "A1.jpg").read_bytes()[:3000])  # truncated JPEG
    r = run_cli("predict", e2e["int8"], tmp_path)
    assert_user_error(r, "cannot decode", "1b.jpg", "1 of 4 file(s)")
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == [str(tmp_path / f"{i}.jpg") for i in range(3)]


def test_stream_options_on_photos_alone_are_refused(e2e, asl_test, tmp_path):
    """--spell and --smooth act on a video or camera; on photos alone (named, or all a folder holds) they would be
    ignored, so they are refused before any work; a folder with a video among its photos is read."""
    photo = asl_test / "A" / "A1.jpg"
    assert_user_error(run_cli("predict", e2e["int8"], photo, "--spell", "--smooth", "3"),
                      "--smooth, --spell: for a video or a camera")
    assert_user_error(run_cli("predict", e2e["int8"], asl_test / "A", "--spell"), "--spell: for a video or a camera")
    assert run_cli("predict", e2e["int8"], photo).returncode == 0
    pytest.importorskip("cv2")
    from test_video_stream import write_video

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.jpg").symlink_to(photo)
    write_video(mixed / "clip.avi", [np.asarray(Image.open(photo).convert("RGB"))] * 3)
    r = run_cli("predict", e2e["int8"], mixed, "--spell")
    assert r.returncode == 0 and r.stdout.splitlines()[-1].startswith("text: "), r.stderr[-1000:]


def test_letter_model_options_are_checked_before_the_work(e2e, asl_test, tmp_path):
    pytest.importorskip("cv2")
    from test_video_stream import write_video

    folder = tmp_path / "words"  # a video: --spell's options are for streams
    folder.mkdir()
    write_video(folder / "a.avi", [np.asarray(Image.open(asl_test / "A" / "A1.jpg").convert("RGB"))] * 3)
    assert_user_error(run_cli("predict", e2e["int8"], folder, "--letters", "none"), "--letters: for --spell")
    assert_user_error(run_cli("predict", e2e["int8"], folder, "--spell-threshold", "0.3"),
                      "--spell-threshold: for --spell")
    assert_user_error(run_cli("predict", e2e["int8"], folder, "--spell", "--spell-threshold", "1.5"),
                      "--spell-threshold must be a probability between 0 and 1")
    assert_user_error(run_cli("predict", e2e["int8"], folder, "--spell", "--letters", "missing.json"),
                      "--letters missing.json: no such file")
    assert_user_error(run_cli("predict", e2e["int8"], folder, "--spell", "--letters", asl_test / "A" / "A1.jpg"),
                      "A1.jpg: cannot be read")
    (tmp_path / "other.json").write_text('{"format": "labels"}')
    assert_user_error(run_cli("predict", e2e["int8"], folder, "--spell", "--letters", tmp_path / "other.json"),
                      "not a letter-trigrams-v1 file")


def test_grayscale_image_for_rgb_model(e2e, tmp_path, asl_test):
    gray = tmp_path / "gray.png"
    Image.open(asl_test / "A" / "A1.jpg").convert("L").save(gray)
    r = run_cli("predict", e2e["int8"], gray)
    assert r.returncode == 0 and "gray.png:" in r.stdout, r.stderr


def test_missing_data_and_video(e2e, tmp_path):
    assert_user_error(run_cli("evaluate", e2e["int8"], tmp_path / "nowhere"), "dataset not found")
    bad_video = tmp_path / "clip.mp4"
    bad_video.write_bytes(b"\x00" * 1000)
    assert_user_error(run_cli("predict", e2e["int8"], bad_video), "video")


def test_no_camera(e2e):
    r = run_cli("predict", e2e["int8"], "--camera", "7")
    assert_user_error(r, "cannot open camera 7")
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # OpenCV's own warnings only with --verbose
    assert_user_error(run_cli("predict", e2e["int8"], "--camera", "pi"), "Pi camera")


def test_model_without_metadata_works_with_a_warning(tmp_path, asl_test):
    from edgesign.training import create_model
    from edgesign.training.tf_env import tf

    model = create_model("cnn", (32, 32, 3), 29)
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    r = run_cli("predict", bare, asl_test / "A" / "A1.jpg", "-k", "1")
    assert r.returncode == 0, r.stderr
    assert "no edgesign metadata" in r.stderr
    label = r.stdout.split(":")[-1].split()[0]
    assert label.isdigit()  # index labels


# --- convert ---------------------------------------------------------------------------------

def test_convert_rejects_bad_inputs(e2e, tmp_path, asl_test, small_subset):
    out = tmp_path / "out.tflite"
    not_keras = tmp_path / "model.keras"
    not_keras.write_text("nope")
    assert_user_error(run_cli("convert", not_keras, "--int8", "--calib", asl_test, "-o", out), "not a Keras model")
    for budget in ("abc", "-1"):
        assert_user_error(run_cli("convert", e2e["run"], "--int8", "--calib", asl_test, "--max-drop", budget,
                                  "-o", out), "--max-drop")
    assert_user_error(run_cli("convert", e2e["run"], "--edgetpu", "-o", out), "--int8")
    assert_user_error(run_cli("convert", e2e["run"], "--int8", "--calib", small_subset, "-o", out),
                      "do not match")
    assert_user_error(run_cli("convert", e2e["run"], "--int8", "--calib", asl_test, "--calib-size", "5000",
                              "-o", out), "fewer calibration images")
    assert not out.exists() and not list(tmp_path.glob("*.part"))


# --- train -----------------------------------------------------------------------------------

def test_check_refuses_a_float_model_that_is_not_the_pair(e2e, asl_test):
    """The float side of `check` must take the converted model's input and give its classes: a 32x32 run against
    the shipped 96x96 model was a Keras ValueError traceback; a float .tflite of another size, a vague line after
    the converted model's pass."""
    shipped = ROOT / "models" / "asl29.tflite"
    for against in (e2e["run"], e2e["float32"]):
        r = run_cli("check", shipped, "--against", against, "--data", asl_test, "--max-drop", "1")
        assert_user_error(r, f"--against {against.name} is not asl29.tflite's float model: it takes 32x32x3 images, "
                             "asl29.tflite 96x96x3")


def test_train_rejects_bad_inputs(tmp_path, small_subset):
    assert_user_error(run_cli("train", "resnet-18", "--data", small_subset), "did you mean resnet18")
    assert_user_error(run_cli("train", "landmark-mlp", "--data", small_subset, "--data", f"{small_subset}/"),
                      f"--data {small_subset}/ is --data {small_subset} again", "counted once")
    assert_user_error(run_cli("train", "cnn", "--data", small_subset, "--test-data", small_subset),
                      "held-out data must be other photos")
    # a test folder the model will not know is named before training, not after it (any case, a subset: fine)
    odd = tmp_path / "odd-test"
    (odd / "Hello").mkdir(parents=True)
    (odd / "Hello" / "x.jpg").symlink_to(next((small_subset / "A").iterdir()).resolve())
    r = run_cli("train", "cnn", "--data", small_subset, "--test-data", odd, "--size", "32", "-o", tmp_path / "r-odd")
    assert_user_error(r, f"{odd} has classes the model does not know: Hello")
    assert "epoch 1/" not in r.stderr
    assert_user_error(run_cli("train", "cnn", "--data", small_subset, "--mirror"), "is for landmark models")
    assert_user_error(run_cli("train", "cnn", "--data", small_subset, "--flex", "5"), "--flex is for landmark models")
    # options only some image models take (--head was a TypeError traceback, --fine-tune-epochs dropped)
    for extra, said in ((["--head", "gap"], "--head: cnn has one head; it is for vgg16-transfer"),
                        (["--fine-tune-epochs", "3"], "--fine-tune-epochs: cnn trains in one stage"),
                        (["--weights", "imagenet"], "--weights imagenet: cnn has no ImageNet weights")):
        assert_user_error(run_cli("train", "cnn", "--data", small_subset, *extra, "-o", tmp_path / "r0"), said)
    # a recipe trains as written: an option that would change it is refused, not dropped without a word
    recipe = ROOT / "models" / "asl29-resnet18.toml"
    for extra, named in ((["--epochs", "3", "--no-mirror"], "--epochs, --mirror/--no-mirror"),
                         (["cnn", "--seed", "1", "--flex", "5"], "MODEL, --seed, --flex")):
        r = run_cli("train", "--recipe", recipe, *extra, "-o", tmp_path / "r0")
        assert_user_error(r, f"{named} would change it")
    assert not (tmp_path / "r0").exists()
    assert_user_error(run_cli("train", "resnet18", "--data", small_subset, "--size", "16", "-o", tmp_path / "r1"),
                      "too small")
    single = tmp_path / "single"
    (single / "A").mkdir(parents=True)
    for f in sorted((small_subset / "A").iterdir())[:5]:
        (single / "A" / f.name).symlink_to(f.resolve())
    assert_user_error(run_cli("train", "cnn", "--data", single, "--size", "32", "-o", tmp_path / "r2"), "single class")
    wrong = tmp_path / "wrong.weights.h5"
    from edgesign.training import create_model

    create_model("cnn", (32, 32, 3), 4).save_weights(wrong)
    assert_user_error(run_cli("train", "resnet18", "--data", small_subset, "--size", "32", "--epochs", "1",
                              "--weights", wrong, "-o", tmp_path / "r3"), "does not fit")


def test_imagenet_weights_that_cannot_be_fetched_are_one_line_and_no_half_made_run(tmp_path, small_subset):
    """A transfer model's default ImageNet weights on a device without the network (a proxy on a closed port stands
    for it, and an empty Keras folder for a first run): one error line saying what to do, before the run folder is
    written, so the same command works once the weights are there (it said 'pass --resume' before)."""
    env = {"KERAS_HOME": str(tmp_path / "keras"), "https_proxy": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    run = tmp_path / "transfer"
    r = run_cli("train", "resnet50-transfer", "--data", small_subset, "--size", "32", "--epochs", "1", "-o", run,
                env=env, timeout=300)
    assert_user_error(r, "the ImageNet weights of ResNet50 could not be downloaded", "--weights none")
    assert not run.exists() or not any(run.iterdir())


@pytest.mark.parametrize("args,needle", [(["--bogus"], "No such option")])
def test_usage_errors(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr
