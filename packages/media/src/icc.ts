/** The description ('desc' tag) of an ICC profile, v2 (`desc`) or v4 (`mluc`) encoded. */
export function iccDescription(icc: Uint8Array | undefined): string | null {
  if (!icc || icc.length < 132) return null;
  const b = Buffer.from(icc.buffer, icc.byteOffset, icc.byteLength);
  try {
    const count = b.readUInt32BE(128);
    for (let i = 0; i < Math.min(count, 100); i++) {
      const at = 132 + i * 12;
      if (at + 12 > b.length) break;
      if (b.toString('latin1', at, at + 4) !== 'desc') continue;
      const offset = b.readUInt32BE(at + 4);
      const type = b.toString('latin1', offset, offset + 4);
      if (type === 'desc') {
        const len = b.readUInt32BE(offset + 8);
        return clean(b.toString('latin1', offset + 12, offset + 12 + Math.max(0, len - 1)));
      }
      if (type === 'mluc') {
        const recordSize = b.readUInt32BE(offset + 12);
        const len = b.readUInt32BE(offset + 16 + 4);
        const start = offset + b.readUInt32BE(offset + 16 + 8);
        if (recordSize < 12) return null;
        return clean(utf16be(b.subarray(start, start + len)));
      }
    }
  } catch {
    return null;
  }
  return null;
}

function utf16be(bytes: Buffer): string {
  const swapped = Buffer.from(bytes.subarray(0, bytes.length & ~1));
  swapped.swap16();
  return swapped.toString('utf16le');
}

function clean(s: string): string | null {
  const t = s.replace(/\0+$/, '').trim();
  return t.length > 0 ? t : null;
}
