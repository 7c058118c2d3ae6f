#!/usr/bin/env python3
"""Generates small decode references for ImageCoreTests (Pillow encodes, Pillow decodes with convert("RGB")).

Writes Tests/ImageCoreTests/Resources/decode/<name>.<jpg|webp> and <name>.rgb (raw interleaved RGB of
PIL.Image.open(file).convert("RGB"), the reference decode) plus manifest.json. Needs Pillow 13 and numpy.
"""
import json
import os

import numpy as np
import PIL
from PIL import Image


def pattern(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), ((x + y) * 7) % 256], axis=-1)
    noise = rng.integers(-20, 21, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    outdir = os.path.join(root, "Tests/ImageCoreTests/Resources/decode")
    os.makedirs(outdir, exist_ok=True)
    rgb = Image.fromarray(pattern(45, 31, 1), "RGB")
    files = {}
    # Adobe CMYK JPEG (Pillow writes an Adobe APP14 marker; it reads 4-component JPEGs as inverted "CMYK;I").
    files["cmyk"] = (rgb.convert("CMYK"), {"quality": 90})
    # Grayscale JPEG: convert("RGB") replicates L into R = G = B.
    files["gray"] = (rgb.convert("L"), {"quality": 90})
    # 4:2:0 RGB JPEG with an EXIF orientation of 6 (rotate 90°): the reference ignores it, so no rotation.
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif-orientation-6"] = (rgb, {"quality": 85, "exif": exif.tobytes()})
    # Progressive, 4:4:4.
    files["progressive-444"] = (rgb, {"quality": 95, "progressive": True, "subsampling": 0})
    # Lossy WebP (VP8 4:2:0, odd size): libwebp's fancy upsampling + fixed-point YUV->RGB.
    files["lossy"] = (rgb, {"format": "WEBP", "quality": 70})
    alpha = Image.fromarray(pattern(45, 31, 2)[:, :, 0], "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    files["lossy-alpha"] = (rgba, {"format": "WEBP", "quality": 70})
    manifest = []
    for name, (im, opts) in files.items():
        opts = dict(opts)
        fmt = opts.pop("format", "JPEG")
        path = os.path.join(outdir, name + (".jpg" if fmt == "JPEG" else ".webp"))
        im.save(path, fmt, **opts)
        ref = Image.open(path)
        mode = ref.mode
        out = np.asarray(ref.convert("RGB"))
        out.tofile(os.path.join(outdir, name + ".rgb"))
        manifest.append({"name": name, "file": os.path.basename(path), "mode": mode, "width": out.shape[1],
                         "height": out.shape[0]})
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump({"generator": "scripts/generate_decode_refs.py", "pillow": PIL.__version__, "cases": manifest}, f,
                  indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
