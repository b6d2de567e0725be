"""Whatever image a user drops either becomes exactly what the model takes, or a clear ImageError.

Every file here is written into tmp_path by the test itself; no Qt is involved. The digit check at
the end runs the built-in model, so that one test needs TensorFlow.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.images.convert
from engine.images.convert import ImageError, convert_image, read_image
from engine.images.samples import load_sample
from engine.protocol.catalogue import sample_names

MNIST = (28, 28, 1)
IMAGENET = (224, 224, 3)
UNIT = (0.0, 1.0)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _open_fds_to(path: Path) -> list[str]:
    """Descriptors this process still holds on `path` (Linux; empty elsewhere)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return []
    held = []
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(fd_dir / fd) == str(path):
                held.append(fd)
        except OSError:
            continue
    return held


# ----------------------------------------------------------------------------- files that fail


def _read_error(path: Path) -> str:
    with pytest.raises(ImageError) as caught:
        read_image(path)
    return str(caught.value)


def test_a_truncated_png_is_reported_as_damaged(tmp_path):
    whole = _png_bytes(_noise(64, 64))
    path = _write(tmp_path / "half.png", whole[: len(whole) // 2])
    message = _read_error(path)
    assert "half.png" in message
    assert "damaged" in message


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    _noise(64, 64).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("seed", range(5))
def test_a_jpeg_with_garbage_after_its_header_is_reported_as_damaged(tmp_path, seed):
    header = _jpeg_bytes()[:20]  # start-of-image and the JFIF block, then noise
    path = _write(tmp_path / "photo.jpg", header + np.random.default_rng(seed).bytes(3000))
    message = _read_error(path)
    assert "photo.jpg" in message
    assert "damaged" in message


@pytest.mark.parametrize("seed", range(5))
def test_a_jpeg_with_garbage_picture_data_is_refused_or_read_whole(tmp_path, seed):
    # The JPEG decoder skips over some corrupt picture data and decodes noise instead; that is
    # fine, as long as nothing but a clear ImageError ever comes out.
    whole = _jpeg_bytes()
    scan = whole.index(b"\xff\xda")  # the tables end where the picture data begins
    garbage = np.random.default_rng(seed).bytes(3000)
    path = _write(tmp_path / "scan.jpg", whole[: scan + 14] + garbage)
    try:
        picture = read_image(path)
    except ImageError as error:
        assert "scan.jpg" in str(error) and "damaged" in str(error)
    else:
        assert picture.size == (64, 64)
        assert convert_image(picture, MNIST, UNIT).pixels.shape == MNIST


def test_a_failed_decode_does_not_keep_the_file_open(tmp_path):
    whole = _png_bytes(_noise(64, 64))
    path = _write(tmp_path / "cut.png", whole[: len(whole) // 2])
    with pytest.raises(ImageError) as caught:
        read_image(path)
    # While the error (and its traceback) lives on, a held handle would lock the file on Windows.
    assert caught.value.__traceback__ is not None
    assert _open_fds_to(path) == []


def test_a_text_file_named_png_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n", encoding="utf-8")
    message = _read_error(path)
    assert "notes.png" in message
    assert "not an image" in message


def test_an_empty_file_says_it_is_empty(tmp_path):
    path = _write(tmp_path / "blank.jpg", b"")
    message = _read_error(path)
    assert "blank.jpg" in message
    assert "empty" in message


def test_a_missing_file_says_so(tmp_path):
    message = _read_error(tmp_path / "gone.png")
    assert "gone.png" in message
    assert "no such file" in message


def test_a_folder_is_not_an_image(tmp_path):
    folder = tmp_path / "holiday pictures"
    folder.mkdir()
    message = _read_error(folder)
    assert "holiday pictures" in message
    assert "folder" in message


def test_a_decompression_bomb_is_refused_in_plain_words(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (100, 80), (1, 2, 3)).save(path)  # 8,000 pixels
    for limit in (1_000, 5_000):  # Pillow errors above twice its limit and warns below that
        monkeypatch.setattr(engine.images.convert, "MAX_PIXELS", limit)
        message = _read_error(path)
        assert "bomb.png" in message
        assert "too large" in message
        assert f"{limit:,}" in message
        assert "DOS" not in message and "decompression bomb" not in message


def test_the_pixel_limit_is_restored_after_a_refusal(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (100, 80)).save(path)
    before = Image.MAX_IMAGE_PIXELS
    monkeypatch.setattr(engine.images.convert, "MAX_PIXELS", 1_000)
    _read_error(path)
    assert before == Image.MAX_IMAGE_PIXELS


# ----------------------------------------------------------------------------- sizes


def test_a_huge_jpeg_opens_and_shrinks_to_any_model_input(tmp_path):
    path = tmp_path / "huge.jpg"
    huge = Image.new("RGB", (9000, 7000), (255, 0, 0))
    huge.paste((0, 0, 255), (4500, 0, 9000, 7000))  # left half red, right half blue
    huge.save(path, quality=50)
    picture = read_image(path)
    for shape in (MNIST, IMAGENET):
        converted = convert_image(picture, shape, UNIT)
        assert converted.pixels.shape == shape
        assert converted.original_size == (9000, 7000)
        assert f"resized 9000×7000 → {shape[1]}×{shape[0]}" in converted.notes
    colour = convert_image(picture, IMAGENET, UNIT).pixels
    np.testing.assert_allclose(colour[112, 20], [1.0, 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(colour[112, 200], [0.0, 0.0, 1.0], atol=0.05)


def test_a_one_pixel_image_fills_the_whole_input(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (255, 255, 255)).save(path)
    picture = read_image(path)
    for shape in (MNIST, IMAGENET):
        converted = convert_image(picture, shape, UNIT)
        assert converted.pixels.shape == shape
        np.testing.assert_allclose(converted.pixels, 1.0, atol=1e-6)
        assert any(note.startswith("resized 1×1") for note in converted.notes)


@pytest.mark.parametrize(
    ("size", "expected_hw"),
    [((2000, 1000), (256, 512)), ((300, 1000), (512, 154)), ((40, 30), (30, 40))],
)
def test_a_free_size_model_gets_at_most_512_on_the_long_side(size, expected_hw):
    converted = convert_image(_noise(*size), (None, None, 3), UNIT)
    assert converted.pixels.shape == (*expected_hw, 3)
    resized = any(note.startswith("resized") for note in converted.notes)
    assert resized == (max(size) > engine.images.convert.FREE_SIZE_LIMIT)


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "L", "RGBA"])
def test_a_large_image_of_any_common_mode_shrinks_to_a_small_input(mode):
    # GIFs are palette ("P") images, faxes and scans bilevel ("1"), medical PNGs 16-bit.
    picture = Image.new(mode, (600, 500))
    for shape in (MNIST, IMAGENET):
        converted = convert_image(picture, shape, UNIT)
        assert converted.pixels.shape == shape
        assert np.isfinite(converted.pixels).all()


# ----------------------------------------------------------------------------- colours and range


def test_grey_image_for_a_colour_model_gets_three_equal_channels(tmp_path):
    path = tmp_path / "grey.png"
    ramp = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))
    Image.fromarray(ramp, "L").save(path)
    converted = convert_image(read_image(path), (32, 32, 3), UNIT)
    assert converted.pixels.shape == (32, 32, 3)
    np.testing.assert_array_equal(converted.pixels[..., 0], converted.pixels[..., 1])
    np.testing.assert_array_equal(converted.pixels[..., 1], converted.pixels[..., 2])
    np.testing.assert_allclose(converted.pixels[0, :, 0], ramp[0] / 255.0, atol=1e-6)
    assert "greyscale copied to 3 channels" in converted.notes


def test_colour_image_for_a_grey_model_gets_one_channel(tmp_path):
    path = tmp_path / "colour.png"
    Image.new("RGB", (10, 10), (255, 0, 0)).save(path)
    converted = convert_image(read_image(path), (10, 10, 1), UNIT)
    assert converted.pixels.shape == (10, 10, 1)
    np.testing.assert_allclose(converted.pixels, 0.299, atol=1e-3)  # luminance of pure red
    assert any("greyscale" in note for note in converted.notes)


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red everywhere...
    rgba[:5, :, 3] = 255  # ...opaque in the top half, fully transparent below
    rgba[5:, :5, :] = (0, 0, 0, 128)  # and half-transparent black at the bottom left
    path = tmp_path / "logo.png"
    Image.fromarray(rgba, "RGBA").save(path)
    converted = convert_image(read_image(path), (10, 10, 3), UNIT)
    np.testing.assert_allclose(converted.pixels[0, 0], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(converted.pixels[9, 9], [1.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(converted.pixels[9, 0], [0.5, 0.5, 0.5], atol=0.01)
    assert "transparency flattened onto white" in converted.notes


def test_a_palette_png_keeps_its_colours(tmp_path):
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * (3 * 254))
    palette.putpixel((0, 0), 1)
    path = tmp_path / "palette.png"
    palette.save(path)
    picture = read_image(path)
    assert picture.mode == "P"
    converted = convert_image(picture, (10, 10, 3), UNIT)
    np.testing.assert_allclose(converted.pixels[0, 0], [0.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(converted.pixels[5, 5], [1.0, 0.0, 0.0], atol=1e-6)


def test_a_palette_png_with_a_transparent_entry_is_flattened(tmp_path):
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * (3 * 254))
    palette.putpixel((0, 0), 1)
    path = tmp_path / "sticker.png"
    palette.save(path, transparency=0)
    converted = convert_image(read_image(path), (10, 10, 3), UNIT)
    np.testing.assert_allclose(converted.pixels[0, 0], [0.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(converted.pixels[5, 5], [1.0, 1.0, 1.0], atol=1e-6)
    assert "transparency flattened onto white" in converted.notes


def test_a_16_bit_png_is_scaled_into_zero_to_one(tmp_path):
    values = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    path = tmp_path / "scan16.png"
    Image.fromarray(values).save(path)
    picture = read_image(path)
    assert picture.mode == "I;16"
    converted = convert_image(picture, (2, 2, 1), UNIT)
    np.testing.assert_allclose(converted.pixels[..., 0], values / 65535.0, atol=1e-6)
    assert any("16-bit" in note for note in converted.notes)


def test_a_dark_16_bit_png_stays_dark_whether_resized_or_not(tmp_path):
    # 16-bit white is 65535 even when no pixel reaches 255: a dim scan must not turn bright.
    values = np.full((64, 64), 200, dtype=np.uint16)
    path = tmp_path / "dim16.png"
    Image.fromarray(values).save(path)
    picture = read_image(path)
    as_is = convert_image(picture, (64, 64, 1), UNIT).pixels
    shrunk = convert_image(picture, MNIST, UNIT).pixels
    np.testing.assert_allclose(as_is, 200 / 65535.0, atol=1e-6)
    np.testing.assert_allclose(shrunk, 200 / 65535.0, atol=1e-4)


def test_a_float_image_in_zero_to_one_keeps_its_brightness(tmp_path):
    values = np.linspace(0.0, 1.0, 16, dtype=np.float32).reshape(4, 4)
    path = tmp_path / "ratio.tiff"
    Image.fromarray(values, "F").save(path)
    picture = read_image(path)
    assert picture.mode == "F"
    converted = convert_image(picture, (4, 4, 1), UNIT)
    np.testing.assert_allclose(converted.pixels[..., 0], values, atol=1e-6)


def test_exif_orientation_6_is_turned_upright(tmp_path):
    stored = Image.new("RGB", (60, 40), (255, 0, 0))
    stored.paste((0, 0, 255), (30, 0, 60, 40))  # stored: red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the stored left edge becomes the top
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    picture = read_image(path)
    assert picture.size == (40, 60)
    converted = convert_image(picture, (None, None, 3), UNIT)
    assert converted.pixels.shape == (60, 40, 3)
    np.testing.assert_allclose(converted.pixels[5, 20], [1.0, 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(converted.pixels[55, 20], [0.0, 0.0, 1.0], atol=0.05)


@pytest.mark.parametrize("channels", [1, 3])
def test_pixels_map_onto_the_models_input_range(channels):
    black_white = Image.fromarray(np.array([[0, 255]], dtype=np.uint8), "L")
    converted = convert_image(black_white, (1, 2, channels), (-1.0, 1.0))
    np.testing.assert_allclose(converted.pixels[0, 0], -1.0, atol=1e-6)
    np.testing.assert_allclose(converted.pixels[0, 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(converted.display[0, 0], 0.0, atol=1e-6)  # display stays 0..1
    np.testing.assert_allclose(converted.display[0, 1], 1.0, atol=1e-6)
    imagenet_caffe = convert_image(black_white, (1, 2, channels), (0.0, 255.0))
    np.testing.assert_allclose(imagenet_caffe.pixels[0, 1], 255.0, atol=1e-4)


# ----------------------------------------------------------------------------- samples


@pytest.mark.parametrize("key", [key for key, _ in sample_names()])
def test_every_sample_converts_for_mnist_and_imagenet_models(key):
    picture = load_sample(key)
    for shape in (MNIST, IMAGENET):
        converted = convert_image(picture, shape, UNIT)
        assert converted.pixels.shape == shape
        assert converted.pixels.dtype == np.float32
        assert 0.0 <= converted.pixels.min() <= converted.pixels.max() <= 1.0


def test_an_unknown_sample_names_the_key():
    with pytest.raises(ValueError, match="'photo:dog'"):
        load_sample("photo:dog")


def test_the_default_model_reads_the_sample_digits():
    from engine.models.loading import load_model

    model, meta, _ = load_model(None)
    batch = np.stack(
        [
            convert_image(load_sample(f"digit:{digit}"), MNIST, meta.input_range).pixels
            for digit in range(10)
        ]
    )
    predicted = model(batch, training=False).numpy().argmax(axis=1)
    right = [digit for digit in range(10) if predicted[digit] == digit]
    assert len(right) >= 8, f"predicted {predicted.tolist()} for digits 0..9"


def _float_tiff(path: Path, values: np.ndarray) -> Path:
    Image.fromarray(values.astype(np.float32)).save(path)  # 2-D float32: a mode "F" TIFF
    return path


def test_nan_and_inf_pixels_are_cleaned_with_a_note(tmp_path):
    values = np.linspace(0.0, 0.5, 28 * 28, dtype=np.float32).reshape(28, 28)
    values[3, 4], values[5, 6], values[7, 8] = np.nan, np.inf, -np.inf
    converted = convert_image(read_image(_float_tiff(tmp_path / "f.tif", values)), MNIST, UNIT)
    assert np.isfinite(converted.pixels).all() and np.isfinite(converted.display).all()
    assert any("3 NaN or infinite pixels replaced" in note for note in converted.notes)
    pixels = converted.pixels[..., 0]
    assert pixels[3, 4] == pixels.min()  # NaN: the lowest finite value
    # One +inf pixel must not make white infinite and every other pixel black.
    finite = np.isfinite(values)
    np.testing.assert_allclose(pixels[finite], values[finite], atol=1e-5)


def test_an_image_with_no_finite_pixel_is_refused(tmp_path):
    path = _float_tiff(tmp_path / "void.tif", np.full((8, 8), np.nan))
    with pytest.raises(ImageError, match="no finite pixel"):
        convert_image(read_image(path), MNIST, UNIT)


def test_a_multi_page_tiff_reads_its_first_page_and_says_so(tmp_path):
    pages = [Image.fromarray(np.full((28, 28), 40 * i, np.uint8)) for i in range(1, 4)]
    path = tmp_path / "stack.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    converted = convert_image(read_image(path), MNIST, UNIT)
    np.testing.assert_allclose(converted.pixels, 40 / 255, atol=1e-6)
    assert "the file has 3 pages; the first one is used" in converted.notes


def test_a_device_is_not_a_regular_file():
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    message = _read_error(Path("/dev/zero"))
    assert "/dev/zero" in message and "not a regular file" in message


def test_a_name_that_is_not_utf8_is_read_and_shown_safely(tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.png")  # Latin-1, not UTF-8
    try:
        with open(raw, "wb") as file:
            Image.new("L", (4, 4), 200).save(file, format="PNG")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    path = Path(os.fsdecode(raw))
    assert convert_image(read_image(path), MNIST, UNIT).pixels.shape == MNIST
    from engine.images.convert import shown_name

    assert shown_name(path.name) == "caf\\xe9.png"
    os.truncate(raw, 0)
    message = _read_error(path)
    message.encode("utf-8")  # printable: no lone surrogates left in it
    assert "caf\\xe9.png" in message


def test_a_float_colour_stack_pillow_cannot_read_is_not_called_damaged(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    stack = np.zeros((2, 3, 28, 28), np.float32)  # two pages of planar float RGB
    stack[0, 0] = 1.0  # page 1 is red
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, photometric="rgb", planarconfig="separate")
    converted = convert_image(read_image(path), (*IMAGENET[:2], 3), UNIT)
    np.testing.assert_allclose(converted.pixels.mean(axis=(0, 1)), [1.0, 0.0, 0.0], atol=1e-6)
    assert "the file has 2 pages; the first one is used" in converted.notes
