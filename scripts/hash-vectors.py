#!/usr/bin/python3
"""Reference pHash/dHash vectors: Python imagehash 4.3's algorithms on Pillow, for the media tests.

imagehash itself is not packaged for Debian, so its two functions are restated here from its
source (imagehash/__init__.py, 4.3.1; BSD-2-Clause) on Debian's python3-pil, python3-numpy and
python3-scipy:

    phash: image.convert('L').resize((32, 32), ANTIALIAS); dct(dct(pixels, axis=0), axis=1);
           the top-left 8x8 > their median
    dhash: image.convert('L').resize((9, 8), ANTIALIAS); pixels[:, 1:] > pixels[:, :-1]

imgkit hashes the image as displayed, so EXIF orientation is applied first (ImageOps.exif_transpose),
which gives the same hash for all eight orientations of one photo. Only the first frame of an
animation is hashed, as Image.open shows it.

    /usr/bin/python3 scripts/hash-vectors.py <folder> [<folder> …] > vectors.json

pHash's bits compare DCT terms with their median, and an image of two to four grey levels has
terms that tie with it exactly, so the DCT must be scipy's to the last bit. `--dct` writes
scipy.fftpack's 2-D DCT of seeded 32x32 matrices (random, two-level, four-level, steps), the top-left
8x8 terms as float.hex, for the unit test of imgkit's port:

    /usr/bin/python3 scripts/hash-vectors.py --dct > test/hash-vectors/dct.json
"""
import json
import os
import sys
import warnings

import numpy
import scipy
import scipy.fftpack
from PIL import Image, ImageOps

warnings.simplefilter('ignore')
Image.MAX_IMAGE_PIXELS = 100_000_000
LANCZOS = Image.LANCZOS


def bits_to_hex(bits):
    value = 0
    for b in bits.flatten():
        value = (value << 1) | int(bool(b))
    return format(value, '0%dx' % (bits.size // 4))


def phash(image):
    pixels = numpy.asarray(image.convert('L').resize((32, 32), LANCZOS))
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]
    return bits_to_hex(low > numpy.median(low))


def dhash(image):
    pixels = numpy.asarray(image.convert('L').resize((9, 8), LANCZOS))
    return bits_to_hex(pixels[:, 1:] > pixels[:, :-1])


def main(folders):
    out = {}
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    with Image.open(path) as im:
                        im.load()
                        shown = ImageOps.exif_transpose(im)
                        out[os.path.relpath(path, folder)] = {
                            'mode': im.mode,
                            'size': list(shown.size),
                            'phash': phash(shown),
                            'dhash': dhash(shown),
                        }
                except Exception:  # not an image Pillow opens: no reference
                    continue
    json.dump(
        {
            'source': 'scripts/hash-vectors.py over the full corpus (../shared/corpus): Pillow %s, numpy %s, scipy %s'
            % (Image.__version__, numpy.__version__, scipy.__version__),
            'note': "imagehash 4.3's phash and dhash (default sizes) restated on Pillow, on the image as displayed "
            '(EXIF orientation applied). Hex strings, most significant bit first, row by row.',
            'images': out,
        },
        sys.stdout,
        indent=2,
        sort_keys=True,
    )
    sys.stdout.write('\n')


def dct_vectors():
    rng = numpy.random.default_rng(20261130)
    cases = []
    for t in range(32):
        kind = ('random', 'two-level', 'four-level', 'step')[t % 4]
        if kind == 'random':
            m = rng.integers(0, 256, (32, 32))
        elif kind == 'two-level':
            m = rng.choice([int(v) for v in rng.integers(0, 256, 2)], (32, 32))
        elif kind == 'four-level':
            m = rng.choice([0, 85, 170, 255], (32, 32))
        else:
            m = numpy.zeros((32, 32), dtype=int)
            m[:, int(rng.integers(1, 31)):] = rng.integers(1, 256)
        m = m.astype(numpy.uint8)
        d = scipy.fftpack.dct(scipy.fftpack.dct(m, axis=0), axis=1)
        cases.append({'kind': kind, 'pixels': bytes(m.flatten()).hex(), 'low': [float(x).hex() for x in d[:8, :8].flatten()]})
    json.dump(
        {'source': 'scripts/hash-vectors.py --dct: scipy %s, numpy %s' % (scipy.__version__, numpy.__version__), 'cases': cases},
        sys.stdout,
        indent=1,
    )
    sys.stdout.write('\n')


if __name__ == '__main__':
    if sys.argv[1:] == ['--dct']:
        dct_vectors()
    else:
        main(sys.argv[1:])
