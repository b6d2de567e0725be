"""Turn whatever image a user drops into exactly what the model takes.

Pure Pillow and numpy, so it is tested without TensorFlow. Every failure is an `ImageError`
with a sentence the window can show as is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.images.channels import LUMA, display_part, expand_channels
from engine.images.tiff import read_first_page

# Largest image we agree to decode: big enough for any camera, small enough to stay in memory.
MAX_PIXELS = 250_000_000
# Models with a free input size see images no larger than this on their longer side.
FREE_SIZE_LIMIT = 512
# How common formats begin: a file that starts like one of them but cannot be opened is a damaged
# picture, not some other kind of file.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


class ImageError(Exception):
    """An image could not be used; the message is meant for the user."""


@dataclass(frozen=True)
class ConvertedImage:
    """An image ready for the model, with what was done to it."""

    pixels: np.ndarray  # (H, W, C) float32 in the model's input range
    # (H, W, 1) or (H, W, 3) float32 in [0, 1]: what the window draws (engine.images.channels)
    display: np.ndarray
    original_size: tuple[int, int]  # width, height
    notes: tuple[str, ...]


def shown_name(name: str) -> str:
    """A file name as it can be printed: bytes that are not UTF-8 shown as \\xff escapes.

    Python keeps such bytes as lone surrogates, which no terminal, JSON writer or widget takes.
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_image_path(path: str | Path) -> None:
    """ImageError unless `path` is a regular, non-empty file: a folder or a device is no image."""
    path = Path(path)
    name = shown_name(path.name or str(path))
    if not path.exists():
        raise ImageError(f"{name}: no such file")
    if path.is_dir():
        raise ImageError(f"{name} is a folder, not an image; give one image file")
    if not path.is_file():  # /dev/zero or a pipe would be read forever
        shown = shown_name(str(path))
        raise ImageError(f"{shown} is not a regular file (a device, pipe or socket), not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{name} is empty (0 bytes)")


def read_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image file, turning every failure into an ImageError."""
    path = Path(path)
    name = shown_name(path.name)
    check_image_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            try:
                image = Image.open(path)
                size = image.size
                try:
                    # JPEG can decode straight at a reduced scale: a huge photo never fills memory.
                    image.draft("RGB", (2048, 2048))
                    image.load()
                except BaseException:
                    image.close()  # an open handle would keep the bad file locked on Windows
                    raise
                image.info["original_size"] = size
                # A multi-page TIFF (or an animation) decodes its first page; the note says so.
                image.info["pages"] = getattr(image, "n_frames", 1)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except UnidentifiedImageError as error:
        kind = _format_by_signature(path)
        page = read_first_page(path, MAX_PIXELS) if kind == "TIFF" else None
        if page is not None:  # a scientific TIFF (float colour, a stack) Pillow has no mode for
            return page
        if kind is not None:
            raise ImageError(
                f"{name} is damaged and could not be decoded (its {kind} header is unreadable)"
            ) from error
        raise ImageError(f"{name} is not an image file convscope can read") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own text speaks of "decompression bomb DOS attacks" and of twice our limit.
        raise ImageError(
            f"{name} is too large to open: it has more than {MAX_PIXELS:,} pixels, "
            "the most convscope opens. Open a smaller copy of it instead."
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"{name} is damaged and could not be decoded ({error})") from error
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the user the picture itself
        return image
    if upright is not image and upright.size != image.size:
        upright.info["original_size"] = size[::-1]
    return upright


def _format_by_signature(path: Path) -> str | None:
    """The image format `path` starts like, or None."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError:
        return None
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def _finite(image: Image.Image) -> tuple[Image.Image, str | None]:
    """A floating-point image with NaN and ±inf replaced, and a note saying how many; the image
    as it is when every pixel is finite. ImageError when no pixel is finite.

    This happens before any resize (a filter would spread one NaN over its neighbours) and
    before the white level is read (one +inf pixel would make every other pixel black).
    """
    if image.mode != "F":  # integer modes cannot hold NaN or inf
        return image, None
    values = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(values)
    if finite.all():
        return image, None
    if not finite.any():
        raise ImageError("the image has no finite pixel values (every pixel is NaN or infinite)")
    low, high = float(values[finite].min()), float(values[finite].max())
    # NaN (no value) is the darkest pixel; ±inf are the brightest and darkest finite ones.
    cleaned = np.clip(np.where(np.isnan(values), low, values), low, high).astype(np.float32)
    fixed = Image.fromarray(cleaned)  # float32, 2-D: mode "F"
    fixed.info.update(image.info)
    bad = int(values.size - finite.sum())
    return fixed, (
        f"{bad:,} NaN or infinite pixel{'s' if bad != 1 else ''} replaced "
        f"(NaN by the lowest value, ±inf clipped to {low:.4g}…{high:.4g})"
    )


def _white_level(image: Image.Image) -> tuple[float, str] | None:
    """White and a note for high-bit-depth images; None for 8-bit modes, whose white is 255.

    Decided on the image as opened: after a resize a 16-bit image is a 32-bit one, and a dark
    16-bit scan has no pixel above 255, yet its white is still 65535.
    """
    mode = image.mode
    if mode.startswith("I;16"):
        return 65535.0, "16-bit pixels scaled to 0–1"
    if mode not in ("I", "F"):
        return None
    top = image.getextrema()[1]
    if not isinstance(top, int | float):  # one band: (low, high), not a pair per band
        raise ValueError(f"a {mode} image should have one band, its extrema are {top!r}")
    top = float(top)
    if mode == "F" and top <= 1.0:
        return 1.0, "floating-point pixels used as 0–1"
    white = 65535.0 if top > 255 else 255.0
    return white, f"{'32-bit' if mode == 'I' else 'floating-point'} pixels scaled to 0–1"


def _to_float(
    image: Image.Image, channels: int, white: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """Pixels as float32 in [0, 1] with the model's channel count, plus notes.

    `white` is the value of white in a high-bit-depth ("I" or "F") image, from `_white_level`.
    Channel counts other than 1 and 3 follow the rule in `engine.images.channels`.
    """
    notes: list[str] = []
    mode = image.mode
    alpha = None
    if white is not None:
        values = np.asarray(image, dtype=np.float32)
        grey = np.clip(values / white, 0.0, 1.0)
        rgb = np.repeat(grey[..., None], 3, axis=-1)
    elif image.has_transparency_data and channels in (2, 4):
        # The model has an alpha channel of its own: keep the colours as stored, alpha beside.
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        rgb, alpha = rgba[..., :3], rgba[..., 3]
    else:
        if image.has_transparency_data:
            # Transparent areas become white, as a viewer shows them, not black.
            with_alpha = image.convert("RGBA")
            background = Image.new("RGBA", with_alpha.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, with_alpha)
            notes.append("transparency flattened onto white")
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    is_grey = bool(np.allclose(rgb[..., 0], rgb[..., 1]) and np.allclose(rgb[..., 1], rgb[..., 2]))
    if channels == 1:
        if not is_grey:
            notes.append("converted colour to greyscale")
        grey = rgb @ LUMA
        return grey[..., None], notes
    if channels == 3:
        if is_grey and mode in ("L", "1", "I;16", "I;16B", "I;16L", "I", "F", "LA"):
            notes.append("greyscale copied to 3 channels")
        return rgb, notes
    if channels < 1:
        raise ImageError(f"the model takes {channels} channels; it needs at least 1")
    if channels == 2 and not is_grey:
        notes.append("converted colour to greyscale")
    pixels, channel_notes = expand_channels(rgb, alpha, channels)
    return pixels, notes + channel_notes


def _target_size(size: tuple[int, int], model_hw: tuple[int | None, int | None]) -> tuple[int, int]:
    width, height = size
    model_h, model_w = model_hw
    if model_h and model_w:
        return model_w, model_h
    scale = min(1.0, FREE_SIZE_LIMIT / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def convert_image(
    image: Image.Image,
    input_shape: tuple[int | None, int | None, int],
    input_range: tuple[float, float],
) -> ConvertedImage:
    """Resize and convert `image` to the model's (H, W, C) input in its value range."""
    height, width, channels = input_shape
    original = tuple(image.info.get("original_size", image.size))
    if original[0] < 1 or original[1] < 1:
        raise ImageError(f"the image has no pixels ({original[0]}×{original[1]})")
    target = _target_size(original, (height, width))
    notes: list[str] = []
    pages = int(image.info.get("pages", 1))
    if pages > 1:
        notes.append(f"the file has {pages} pages; the first one is used")
    image, cleaned = _finite(image)
    if cleaned is not None:
        notes.append(cleaned)
    depth = _white_level(image)
    if target != image.size or target != original:
        if image.mode.startswith("I;16"):
            image = image.convert("I")  # 16-bit modes can be neither reduced nor filtered
        elif image.mode in ("P", "1"):
            # Palette and bilevel images (GIFs, scans) cannot be reduced or filtered: expand them.
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        # Reduce first by an integer factor: resizing a 20-megapixel photo to 28×28 directly
        # with a high-quality filter would be slow for no visible gain.
        have_w, have_h = image.size  # JPEG may already be decoded at a reduced scale
        factor = max(1, min(have_w // (4 * target[0]), have_h // (4 * target[1])))
        if factor > 1:
            image = image.reduce(factor)
        image = image.resize(target, Image.Resampling.LANCZOS)
        notes.append(f"resized {original[0]}×{original[1]} → {target[0]}×{target[1]}")
    if depth is not None:
        notes.append(depth[1])
    unit, conversion_notes = _to_float(image, channels, None if depth is None else depth[0])
    notes.extend(conversion_notes)
    if not np.isfinite(unit).all():  # nothing above lets one through; the model must never see it
        raise ImageError("the image has NaN or infinite pixel values after conversion")
    low, high = input_range
    return ConvertedImage(
        pixels=(low + (high - low) * unit).astype(np.float32),
        display=display_part(unit),
        original_size=original,
        notes=tuple(notes),
    )


def from_array(array: np.ndarray) -> Image.Image:
    """A Pillow image from a uint8 or float array (H, W) or (H, W, 3|4), as samples come."""
    data = np.asarray(array)
    if data.dtype != np.uint8:
        top = float(data.max()) if data.size else 1.0
        data = np.clip(data / (top if top > 0 else 1.0) * 255.0, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(data))
