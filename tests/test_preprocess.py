"""The runtime's small pure functions: resize, scaling, quantization, top-k."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgesign import preprocess as pp
from edgesign.adapters import dequantize, quantize, top_k
from edgesign.errors import EdgesignError


def test_center_crop_keeps_the_middle():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 50:150] = 255  # a white centre square in a wide image
    out = pp.to_array(Image.fromarray(img), pp.Preprocess(10, 10, 3))
    assert out.shape == (10, 10, 3) and out.min() == 255


def test_stretch_keeps_everything():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 50:150] = 255
    out = pp.to_array(Image.fromarray(img), pp.Preprocess(10, 10, 3, resize="stretch"))
    assert out[:, 0].max() == 0 and out[:, 5].min() == 255


@pytest.mark.parametrize("channels,mode", [(1, "RGB"), (3, "L"), (3, "RGBA"), (1, "L")])
def test_channels_are_converted(channels, mode):
    img = Image.new(mode, (30, 20), 128 if mode == "L" else (128, 128, 128, 255)[: len(mode)])
    out = pp.to_array(img, pp.Preprocess(8, 8, channels))
    assert out.shape == (8, 8, channels) and out.dtype == np.uint8 and abs(int(out.mean()) - 128) <= 1


def test_scalings():
    px = np.array([[[0, 128, 255]]], np.uint8)
    np.testing.assert_allclose(pp.normalize(px, pp.Preprocess(1, 1, 3, "unit")), [[[0, 128 / 255, 1]]], rtol=1e-6)
    np.testing.assert_allclose(pp.normalize(px, pp.Preprocess(1, 1, 3, "symmetric")), [[[-1, 0.5 / 127.5, 1]]],
                               atol=1e-6)
    caffe = pp.normalize(px, pp.Preprocess(1, 1, 3, "caffe"))  # BGR, minus ImageNet means
    np.testing.assert_allclose(caffe, [[[255 - 103.939, 128 - 116.779, 0 - 123.68]]], rtol=1e-5)


def test_quantize_roundtrip_int8_and_uint8():
    x = np.linspace(-1, 1, 101).astype(np.float32)
    for dtype, zp in ((np.int8, 0), (np.uint8, 128)):
        q = quantize(x, 1 / 127, zp, dtype)
        assert q.dtype == dtype
        np.testing.assert_allclose(dequantize(q, 1 / 127, zp), x, atol=0.5 / 127 + 1e-6)
    assert quantize(np.array([1e9]), 0.1, 0, np.int8)[0] == 127  # saturates


def test_top_k_order_and_bounds():
    probs = np.array([0.1, 0.5, 0.05, 0.35])
    assert top_k(probs, 2) == [(1, 0.5), (3, 0.35)]
    assert len(top_k(probs, 10)) == 4 and len(top_k(probs, 0)) == 1


def test_preprocess_dict_roundtrip():
    p = pp.Preprocess(64, 48, 1, "symmetric", "stretch")
    assert pp.Preprocess.from_dict(p.to_dict()) == p


def test_bad_images(tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(EdgesignError, match="cannot decode"):
        pp.open_image(tmp_path / "notes.jpg")
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(EdgesignError, match="cannot decode"):
        pp.open_image(truncated)
    with pytest.raises(EdgesignError, match="not found"):
        pp.open_image(tmp_path / "missing.png")


def test_decompression_bomb_is_refused(tmp_path):
    big = tmp_path / "big.png"
    Image.new("L", (10_000, 10_000)).save(big)  # 100 megapixels, tiny on disk
    with pytest.raises(EdgesignError, match="too large"):
        pp.open_image(big)


def test_exif_orientation_and_16_bit_images_are_read_as_seen(tmp_path):
    """A phone's portrait photo (stored sideways, EXIF orientation 6) and a 16-bit PNG give the same pixels as
    the plain 8-bit photo: everything that reads images (training, calibration, evaluation, predict) sees them so."""
    from pathlib import Path

    photo = Path(__file__).resolve().parent.parent / "docs" / "examples" / "a.jpg"
    upright = Image.open(photo).convert("RGB").crop((0, 0, 224, 160))
    upright.save(tmp_path / "upright.png")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # how the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    sideways.save(tmp_path / "tagged.png", exif=exif)
    assert np.array_equal(np.asarray(pp.open_image(tmp_path / "tagged.png")), np.asarray(upright))
    gray = np.asarray(upright.convert("L"), dtype=np.uint16)
    Image.fromarray(gray * 257).save(tmp_path / "sixteen.png")  # the same picture in 16 bits
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    got = np.asarray(pp.open_image(tmp_path / "sixteen.png"))
    assert got.dtype == np.uint8 and np.abs(got.astype(int) - gray).max() <= 1
