#!/usr/bin/python3
"""Generate the Pillow golden vectors of internal/imgproc.

The NeuralHash reference (AppleNeuralHash2ONNX nnhash.py) prepares an image as
    Image.open(path).convert('RGB').resize([360, 360])   # BICUBIC
This script records what Pillow produces for:
  * the synthetic images of internal/imgproc (a formula shared with the Go
    tests, so no pixels need to be committed), resized to several sizes;
  * the sample photos in testdata/photos;
  * small format fixtures (PNG variants, GIF, BMP, TIFF, WebP, JPEG variants)
    that it writes into internal/imgproc/testdata/formats, together with
    Pillow's decoded RGB pixels as PNG (want_*.png).
Output: internal/imgproc/testdata/pillow_golden.json. Run with Debian's
python3-pil (Pillow 9.x) and libjpeg-turbo-progs (cjpeg) from the repository
root:
    /usr/bin/python3 scripts/pillow_golden.py
"""
import hashlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = os.path.join(ROOT, "internal", "imgproc", "testdata")
FORMATS = os.path.join(TD, "formats")
PHOTOS = os.path.join(ROOT, "testdata", "photos")

M32 = 0xFFFFFFFF


def synthetic(w, h):
    """Synthetic RGB test image; must match synthetic() in imgproc_test.go.

    Blocks of hashed noise (hard edges, so the bicubic overshoot clips)
    alternate with smooth gradients."""
    y, x, c = np.meshgrid(np.arange(h, dtype=np.int64), np.arange(w, dtype=np.int64),
                          np.arange(3, dtype=np.int64), indexing="ij")
    hsh = (x * 2654435761 + y * 40503 + c * 97) & M32
    hsh ^= hsh >> 13
    hsh = (hsh * 0x5BD1E995) & M32
    hsh ^= hsh >> 15
    noise = hsh & 255
    smooth = (x * 3 + y * 5 + c * 60) & 255
    v = np.where(((x // 8 + y // 8) % 3) == 0, noise, smooth)
    return Image.fromarray(v.astype(np.uint8), "RGB")


def thumb(arr):
    """15x15 block means (blocks of 24x24) of a 360x360x3 array, as hex bytes."""
    a = arr.astype(np.float64).reshape(15, 24, 15, 24, 3).mean(axis=(1, 3))
    return bytes(np.floor(a + 0.5).astype(np.uint8).reshape(-1)).hex()


def samples(arr):
    h, w, _ = arr.shape
    pts = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w // 2, h // 2), (w // 3, (2 * h) // 3)]
    return [[x, y] + [int(v) for v in arr[y, x]] for x, y in pts]


def record(img, size):
    out = np.asarray(img.resize(size))  # Pillow's default filter: BICUBIC
    rec = {"out": list(size), "sha256": hashlib.sha256(out.tobytes()).hexdigest(),
           "samples": samples(out)}
    if size == (360, 360):
        rec["thumb"] = thumb(out)
    return rec


def rgb_sha(img):
    return hashlib.sha256(np.asarray(img).tobytes()).hexdigest()


def main():
    os.makedirs(FORMATS, exist_ok=True)
    gold = {"pillow": PIL.__version__, "synthetic": [], "photos": [], "formats": []}

    cases = [
        ((1000, 37), [(360, 360)]),
        ((37, 1000), [(360, 360)]),
        ((361, 359), [(360, 360)]),
        ((7, 5), [(360, 360), (3, 2)]),
        ((999, 1), [(360, 360)]),
        ((1, 1), [(3, 2)]),
        ((360, 360), [(360, 360), (720, 360)]),
        ((512, 512), [(360, 360), (1, 1)]),
        ((1234, 987), [(17, 23), (360, 360)]),
        ((720, 2160), [(360, 360)]),
        ((4032, 3024), [(360, 360)]),
    ]
    for (w, h), sizes in cases:
        img = synthetic(w, h)
        for s in sizes:
            rec = record(img, s)
            rec["in"] = [w, h]
            gold["synthetic"].append(rec)

    for name in sorted(os.listdir(PHOTOS)):
        if name.endswith(".md"):
            continue
        im = Image.open(os.path.join(PHOTOS, name))
        rgb = im.convert("RGB")
        rec = record(rgb, (360, 360))
        rec.update(name=name, format=im.format, mode=im.mode, size=list(im.size),
                   decoded_sha256=rgb_sha(rgb))
        gold["photos"].append(rec)

    # Format fixtures, written from one synthetic image.
    base = synthetic(97, 61)
    arr = np.asarray(base)
    gray = base.convert("L")
    alpha = Image.fromarray(((np.arange(97 * 61).reshape(61, 97) * 7) & 255).astype(np.uint8), "L")
    rgba = base.copy()
    rgba.putalpha(alpha)
    g16 = Image.fromarray((np.asarray(gray).astype(np.uint16) * 3 + 17).astype(np.uint16))
    pal = base.quantize(64)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = Image.open(os.path.join(PHOTOS, "chelsea.png")).convert("RGB").resize((150, 100))

    def save(name, img, **kw):
        path = os.path.join(FORMATS, name)
        fmt = kw.pop("format", None)
        img.save(path, format=fmt, **kw)
        return name

    fixtures = [
        # name, Go decoder expected to be bit-exact against Pillow
        (save("rgb.png", base), True),
        (save("rgba.png", rgba), True),
        (save("gray.png", gray), True),
        (save("gray16.png", g16), True),
        (save("palette.png", pal), True),
        (save("palette_trns.png", pal, transparency=5), True),
        (save("frame.gif", pal), True),
        (save("rgb.bmp", base), True),
        (save("rgb.tiff", base), True),
        (save("gray16.tiff", g16), True),
        (save("lossless.webp", base, lossless=True), True),
        (save("lossy.webp", photo, quality=80), True),
        (save("lossy_odd.webp", base, quality=70), True),
        (save("lossy_alpha.webp", rgba, quality=70), True),
        (save("q90_444.jpg", base, quality=90, subsampling=0), False),
        (save("q75_420.jpg", base, quality=75, subsampling=2), False),
        (save("q85_422.jpg", base, quality=85, subsampling=1), False),
        (save("progressive.jpg", base, quality=80, progressive=True), False),
        (save("gray.jpg", gray, quality=85), False),
        (save("cmyk.jpg", base.convert("CMYK"), quality=90), False),
        (save("cmyk_photo.jpg", photo.convert("CMYK"), quality=90), False),
        (save("exif6.jpg", base, quality=90, exif=exif.tobytes()), False),
    ]
    # 4:4:0 chroma subsampling (h1v2), which Pillow cannot write: cjpeg from
    # libjpeg-turbo-progs.
    ppm = os.path.join(FORMATS, "tmp.ppm")
    base.save(ppm)
    subprocess.run(["cjpeg", "-quality", "85", "-sample", "1x2", "-outfile",
                    os.path.join(FORMATS, "q85_440.jpg"), ppm], check=True)
    os.remove(ppm)
    fixtures.append(("q85_440.jpg", False))
    # 16-bit RGB PNG written by hand: Pillow cannot save it.
    fixtures.append((write_png16(os.path.join(FORMATS, "rgb16.png"), arr), True))

    for name, exact in fixtures:
        im = Image.open(os.path.join(FORMATS, name))
        rgb = im.convert("RGB")
        want = "want_" + os.path.splitext(name)[0] + "_" + os.path.splitext(name)[1][1:] + ".png"
        rgb.save(os.path.join(FORMATS, want))
        rec = record(rgb, (360, 360))
        rec.update(name=name, want=want, format=im.format, mode=im.mode, size=list(im.size),
                   decoded_sha256=rgb_sha(rgb), go_exact=exact)
        gold["formats"].append(rec)

    with open(os.path.join(TD, "pillow_golden.json"), "w") as f:
        json.dump(gold, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.join(TD, "pillow_golden.json"), file=sys.stderr)


def write_png16(path, arr8):
    """Write a 16-bit RGB PNG whose samples are v*257 + (x % 3)."""
    import struct
    import zlib
    h, w, _ = arr8.shape
    a = arr8.astype(np.uint16) * 257
    a[:, :, 0] -= (np.arange(w, dtype=np.uint16) % 3)[None, :] * (a[:, :, 0] > 3)
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & M32)

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)
    return os.path.basename(path)


if __name__ == "__main__":
    main()
