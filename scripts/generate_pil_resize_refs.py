#!/usr/bin/env python3
"""Generates the Pillow reference outputs for ImageCoreTests' PIL resize tests.

Inputs are synthetic and deterministic (re-created in Swift from the same recipe, see PILResizeTests.swift):
  noise:  bytes from xorshift32 (x ^= x << 13; x ^= x >> 17; x ^= x << 5, all mod 2^32), one byte per channel value,
          byte = state >> 24, row-major interleaved RGB, starting from `seed`.
  blocks: value = 255 if ((x // 3) + (y // 5) + c) is odd else 0 (saturated edges exercise the clipping).
Each is resized with PIL.Image.resize((outW, outH), Image.BILINEAR), the call torchvision's Resize makes.

Writes Tests/ImageCoreTests/Resources/pil_resize/{manifest.json,expected.bin}. Needs Pillow (pip install pillow==13.0.0)
and numpy; CI does not run this, the outputs are committed.
"""
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image

CASES = [
    # name, pattern, seed, in (w, h), out (w, h)
    ("strong-downscale-1280-to-384", "noise", 1, (1280, 48), (384, 14)),
    ("strong-downscale-tall-vertical-first", "noise", 2, (48, 1280), (14, 384)),
    ("upscale-97-to-384", "noise", 3, (97, 5), (384, 20)),
    ("one-pixel-wide-up-and-down", "noise", 4, (1, 200), (5, 384)),
    ("one-pixel-wide-vertical-only", "noise", 5, (1, 500), (1, 384)),
    ("one-pixel-high", "noise", 6, (300, 1), (384, 1)),
    ("odd-non-square-horizontal-first", "noise", 7, (451, 300), (37, 53)),
    ("odd-non-square-vertical-first", "noise", 8, (123, 457), (61, 77)),
    ("mixed-up-horizontal-down-vertical", "noise", 9, (40, 300), (120, 50)),
    ("width-only", "noise", 10, (211, 9), (64, 9)),
    ("blocks-clip", "blocks", 0, (211, 149), (53, 31)),
    ("blocks-upscale", "blocks", 0, (13, 11), (97, 61)),
]


def noise(seed, w, h):
    x = seed & 0xFFFFFFFF
    out = np.empty(w * h * 3, dtype=np.uint8)
    for i in range(w * h * 3):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x >> 24
    return out.reshape(h, w, 3)


def blocks(w, h):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return np.where(((x // 3) + (y // 5) + c) % 2 == 1, 255, 0).astype(np.uint8)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    outdir = os.path.join(root, "Tests/ImageCoreTests/Resources/pil_resize")
    os.makedirs(outdir, exist_ok=True)
    blob = bytearray()
    entries = []
    for name, pattern, seed, (w, h), (ow, oh) in CASES:
        arr = noise(seed, w, h) if pattern == "noise" else blocks(w, h)
        out = np.asarray(Image.fromarray(arr, "RGB").resize((ow, oh), Image.BILINEAR))
        assert out.shape == (oh, ow, 3)
        entries.append({"name": name, "pattern": pattern, "seed": seed, "width": w, "height": h,
                        "outWidth": ow, "outHeight": oh, "offset": len(blob), "length": out.size})
        blob += out.tobytes()
    with open(os.path.join(outdir, "expected.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump({"generator": "scripts/generate_pil_resize_refs.py", "pillow": PIL.__version__,
                   "cases": entries}, f, indent=1)
        f.write("\n")
    print(f"{len(entries)} cases, {len(blob)} bytes, Pillow {PIL.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
