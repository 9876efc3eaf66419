"""One dataset interface, three real formats (../shared/data), and the split rules."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, require_data

from edgesign.data import SIGN_MNIST_CLASSES, load_dataset, load_sample
from edgesign.errors import EdgesignError
from edgesign.preprocess import Preprocess

MNIST = DATA / "sign-mnist-sample" / "sign_mnist_train_sample.csv"
SIGNS = DATA / "signs" / "test_signs.h5"


def test_sign_mnist_csv_without_header():
    ds = load_dataset(require_data(MNIST), Preprocess(28, 28, 1))
    assert len(ds) == 188 and ds.images.shape == (188, 28, 28, 1)
    assert ds.class_names == SIGN_MNIST_CLASSES and len(ds.class_names) == 24 and "J" not in ds.class_names
    assert ds.labels.max() <= 23


def test_sign_mnist_csv_with_kaggle_header_matches(tmp_path):
    src = require_data(MNIST)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    with_header = tmp_path / "with_header.csv"
    with_header.write_text(header + "\n" + src.read_text())
    a, b = load_dataset(src, Preprocess(28, 28, 1)), load_dataset(with_header, Preprocess(28, 28, 1))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    # label 10 (K) maps to index 9 because J (9) is absent
    raw = int(src.read_text().splitlines()[0].split(",")[0])
    assert a.class_names[a.labels[0]] == chr(ord("A") + raw)


def test_sign_mnist_resized_to_rgb():
    ds = load_dataset(require_data(MNIST), Preprocess(32, 32, 3))
    assert ds.images.shape == (188, 32, 32, 3)


def test_csv_with_wrong_column_count(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("3," + ",".join(["0"] * 100) + "\n")
    with pytest.raises(EdgesignError, match="expected 785 columns"):
        load_dataset(bad, Preprocess(28, 28, 1))


def test_signs_h5():
    ds = load_dataset(require_data(SIGNS), Preprocess(64, 64, 3))
    assert len(ds) == 120 and ds.class_names == ["0", "1", "2", "3", "4", "5"]
    with pytest.raises(EdgesignError, match="no train split"):
        load_dataset(SIGNS, Preprocess(64, 64, 3), split="train")


def test_image_folder(asl_test):
    ds = load_dataset(asl_test, Preprocess(32, 32, 3), progress=False)
    assert len(ds) == 870 and len(ds.class_names) == 29 and (ds.class_counts() == 30).all()
    assert ds.images.shape == (870, 32, 32, 3) and len(ds.digest) == 64


def test_class_check_against_a_model(asl_test):
    ds = load_dataset(asl_test, Preprocess(16, 16, 3), progress=False)
    ds.check_classes(list(ds.class_names), 29)
    ds.check_classes(None, 29)  # a model without labels: only the count
    with pytest.raises(EdgesignError, match="differing: Del, Nothing"):
        ds.check_classes([c for c in ds.class_names if c not in ("Del", "Nothing")], 27, "calibration")
    with pytest.raises(EdgesignError, match="their order"):
        ds.check_classes(sorted(ds.class_names, reverse=True), 29)
    with pytest.raises(EdgesignError, match="has 29 classes, the model outputs 26"):
        ds.check_classes(None, 26)


def test_folder_errors(tmp_path):
    with pytest.raises(EdgesignError, match="not found"):
        load_dataset(tmp_path / "missing", Preprocess(32, 32))
    (tmp_path / "empty" / "A").mkdir(parents=True)
    with pytest.raises(EdgesignError, match="no images"):
        load_dataset(tmp_path / "empty", Preprocess(32, 32))


def test_corrupt_images_are_skipped_and_counted(tmp_path, asl_test, capsys):
    for cls in ("A", "B"):
        (tmp_path / cls).mkdir()
        for f in sorted((asl_test / cls).iterdir())[:3]:
            (tmp_path / cls / f.name).write_bytes(f.read_bytes())
    (tmp_path / "A" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    ds = load_dataset(tmp_path, Preprocess(16, 16), progress=False)
    assert len(ds) == 6 and len(ds.skipped) == 1
    assert "skipped 1 unreadable image" in capsys.readouterr().err
    with pytest.raises(EdgesignError, match="broken.jpg"):
        load_dataset(tmp_path, Preprocess(16, 16), strict=True, progress=False)


def test_stratified_split_and_sample(asl_test):
    ds = load_dataset(asl_test, Preprocess(8, 8), progress=False)
    train, val = ds.split(0.2, seed=1)
    assert len(train) + len(val) == len(ds)
    assert (val.class_counts() == 6).all() and (train.class_counts() == 24).all()
    again, _ = ds.split(0.2, seed=1)
    np.testing.assert_array_equal(train.labels, again.labels)
    sample = ds.stratified_sample(58)
    assert (sample.class_counts() == 2).all()


def test_a_sample_decodes_only_its_photos_and_is_the_whole_folders_sample(tmp_path, asl_test, capsys):
    """Calibration's sample of a folder: the same photos (and pixels) as the whole folder's stratified sample,
    with only those decoded; a photo of it that does not decode sends it back to the whole folder."""
    pre = Preprocess(8, 8)
    whole = load_dataset(asl_test, pre, progress=False).stratified_sample(58, seed=3)
    sample = load_sample(asl_test, pre, 58, seed=3, progress=False)
    assert sample.total == 870 and sample.digest_of == "sample" and sample.data.digest != whole.digest
    np.testing.assert_array_equal(sample.data.images, whole.images)
    np.testing.assert_array_equal(sample.data.labels, whole.labels)
    assert (sample.data.class_counts() == 2).all() and sample.data.class_names == whole.class_names
    everything = load_sample(asl_test, pre, 870, progress=False)  # all of it: the folder's own load and digest
    assert everything.digest_of == "source" and len(everything.data) == 870
    for cls in ("A", "B"):
        (tmp_path / cls).mkdir()
        for f in sorted((asl_test / cls).iterdir())[:3]:
            (tmp_path / cls / f.name).write_bytes(f.read_bytes() if cls == "B" else b"\xff\xd8\xff garbage")
    broken = load_sample(tmp_path, pre, 2, progress=False)  # a sample of 2 takes an A: none decodes
    assert broken.digest_of == "source" and broken.total == 3 and list(broken.data.labels) == [1, 1]
    assert "skipped 3 unreadable image" in capsys.readouterr().err


def test_block_split_holds_out_the_last_files_in_natural_order(asl_test):
    ds = load_dataset(asl_test, Preprocess(8, 8), progress=False)
    _, val = ds.split(0.2, mode="blocks")
    assert (val.class_counts() == 6).all()
    from edgesign.data import list_image_folder

    _, items = list_image_folder(asl_test)
    a_files = [f.name for f, c in items if c == 0]
    assert a_files[:3] == ["A0.jpg", "A1.jpg", "A2.jpg"] and a_files[-1] == "A29.jpg"
