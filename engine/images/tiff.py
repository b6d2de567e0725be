"""The first page of a TIFF that Pillow cannot decode, read with tifffile.

Scientific TIFFs (stacks written by tifffile or ImageJ, floating-point colour, planar channels)
are valid files Pillow has no mode for. tifffile, which scikit-image already depends on, reads
them; the page becomes an image of the nearest Pillow mode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def read_first_page(path: Path, max_pixels: int) -> Image.Image | None:
    """The first page of `path` as a Pillow image, with "pages" in its info; None if unreadable
    or larger than `max_pixels`."""
    try:
        import tifffile
    except ImportError:
        return None
    try:
        with tifffile.TiffFile(path) as tiff:
            pages = len(tiff.pages)
            page = tiff.pages[0]
            if not isinstance(page, tifffile.TiffPage):
                return None
            if page.imagewidth * page.imagelength > max_pixels:
                return None
            values = np.asarray(page.asarray())
    except Exception:  # tifffile raises many types for what it cannot read: all mean "damaged"
        return None
    image = _as_image(values)
    if image is not None:
        image.info["pages"] = pages
        image.info["original_size"] = image.size
    return image


def _as_image(values: np.ndarray) -> Image.Image | None:
    """A 2-D page as a one-band image; (H, W, 3|4) or (3|4, H, W) colour as 8-bit RGB(A)."""
    values = np.squeeze(values)
    if values.ndim == 3 and values.shape[0] in (3, 4) and values.shape[-1] not in (3, 4):
        values = np.moveaxis(values, 0, -1)  # planar channels
    if values.ndim == 2:
        if values.dtype == np.uint8:
            return Image.fromarray(values)
        if values.dtype == np.uint16:
            return Image.fromarray(values.astype(np.uint16))  # mode I;16
        return Image.fromarray(values.astype(np.float32))  # mode F: NaN is cleaned later
    if values.ndim != 3 or values.shape[-1] not in (3, 4):
        return None
    if values.dtype != np.uint8:  # Pillow has no float colour mode: scale to 8 bits
        values = values.astype(np.float64)
        finite = np.isfinite(values)
        top = float(values[finite].max()) if finite.any() else 1.0
        white = 1.0 if top <= 1.0 else 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        values = np.clip(np.where(finite, values, 0.0) / white * 255.0, 0, 255).round()
    return Image.fromarray(values.astype(np.uint8))
