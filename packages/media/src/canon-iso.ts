/**
 * ISO from Canon maker notes, for the older Canon cameras that do not write EXIF ISO. As
 * exiftool's Composite:ISO: CameraISO (CameraSettings[16]) when it is a number, else
 * BaseISO × AutoISO / 100 (ShotInfo[2] and ShotInfo[1], both 2^(v/32)-scaled). The maker note
 * is an IFD with offsets relative to the TIFF header; every read is bounds-checked and the
 * walk visits each entry once (untrusted bytes).
 */

const CAMERA_ISO: Record<number, number> = { 16: 50, 17: 100, 18: 200, 19: 400, 20: 800 };

/** `tiff`: the EXIF block from the TIFF header on (no "Exif\0\0"). */
export function canonIso(tiff: Uint8Array): number | undefined {
  const v = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (tiff.length < 8) return undefined;
  const order = String.fromCharCode(tiff[0], tiff[1]);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (at: number) => (at >= 0 && at + 2 <= tiff.length ? v.getUint16(at, le) : undefined);
  const s16 = (at: number) => (at >= 0 && at + 2 <= tiff.length ? v.getInt16(at, le) : undefined);
  const u32 = (at: number) => (at >= 0 && at + 4 <= tiff.length ? v.getUint32(at, le) : undefined);

  /** The entry of `tag` in the IFD at `ifd`: its type, count and value offset field's position. */
  const find = (ifd: number, tag: number) => {
    const n = u16(ifd);
    if (n === undefined || n > 1000) return undefined;
    for (let i = 0; i < n; i++) {
      const at = ifd + 2 + i * 12;
      if (u16(at) === tag) return { type: u16(at + 2), count: u32(at + 4) ?? 0, field: at + 8 };
    }
    return undefined;
  };
  /** The offset of a 16-bit array's element `index` (inline when it fits in 4 bytes). */
  const shortAt = (entry: { type?: number; count: number; field: number } | undefined, index: number) => {
    if (!entry || (entry.type !== 3 && entry.type !== 8) || index >= entry.count) return undefined;
    const base = entry.count * 2 <= 4 ? entry.field : u32(entry.field);
    return base === undefined ? undefined : base + index * 2;
  };

  const ifd0 = u32(4);
  if (ifd0 === undefined) return undefined;
  const exifPointer = find(ifd0, 0x8769);
  const exifIfd = exifPointer && u32(exifPointer.field);
  if (exifIfd === undefined) return undefined;
  const makerNote = find(exifIfd, 0x927c);
  const notes = makerNote && makerNote.count > 4 ? u32(makerNote.field) : undefined;
  if (notes === undefined) return undefined;

  const settings = find(notes, 0x0001);
  const cameraIsoAt = shortAt(settings, 16);
  const cameraIso = cameraIsoAt === undefined ? undefined : u16(cameraIsoAt);
  if (cameraIso !== undefined && cameraIso !== 0x7fff) {
    if (cameraIso & 0x4000) return cameraIso & 0x3fff;
    if (CAMERA_ISO[cameraIso]) return CAMERA_ISO[cameraIso];
  }
  const shot = find(notes, 0x0004);
  const autoAt = shortAt(shot, 1);
  const baseAt = shortAt(shot, 2);
  const auto = autoAt === undefined ? undefined : s16(autoAt);
  const base = baseAt === undefined ? undefined : s16(baseAt);
  if (auto === undefined || base === undefined) return undefined;
  const autoIso = 2 ** (auto / 32) * 100;
  const baseIso = (2 ** (base / 32) * 100) / 32;
  if (!(autoIso > 0) || !(baseIso > 0)) return undefined;
  return Math.round((baseIso * autoIso) / 100);
}
