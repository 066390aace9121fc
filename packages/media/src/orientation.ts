import type { Metadata, Sharp } from 'sharp';

/**
 * The orientation to display an image with: EXIF's (IFD0) when present, else XMP's
 * `tiff:Orientation`, as the Metadata Working Group's guidelines say. IFD1's orientation
 * belongs to the embedded thumbnail and is ignored (sharp reports IFD0's only).
 */
export function displayOrientation(meta: Metadata): { value: number | null; fromXmp: boolean } {
  if (meta.orientation) return { value: meta.orientation, fromXmp: false };
  const xmp = xmpOrientation(meta.xmp);
  return { value: xmp, fromXmp: xmp !== null };
}

/** `tiff:Orientation` of an XMP packet, as an attribute or an element; one linear scan. */
export function xmpOrientation(xmp: Buffer | undefined): number | null {
  if (!xmp) return null;
  const text = xmp.subarray(0, 1 << 20).toString('latin1');
  const m = /tiff:Orientation\s*(?:=\s*["']\s*([1-8])\s*["']|>\s*([1-8])\s*<)/.exec(text);
  return m ? Number(m[1] ?? m[2]) : null;
}

/**
 * Applies an XMP orientation that sharp's autoOrient (EXIF only) does not know. The pairs of
 * rotation and mirror are the ones that give autoOrient's pixels for the same EXIF value.
 */
export function applyXmpOrientation(img: Sharp, meta: Metadata): Sharp {
  const { value, fromXmp } = displayOrientation(meta);
  if (!fromXmp || value === null || value === 1) return img;
  switch (value) {
    case 2:
      return img.flop();
    case 3:
      return img.rotate(180);
    case 4:
      return img.flip();
    case 5:
      return img.rotate(270).flop();
    case 6:
      return img.rotate(90);
    case 7:
      return img.rotate(90).flop();
    case 8:
      return img.rotate(270);
    default:
      return img;
  }
}
