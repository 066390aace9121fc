import { asNumber } from './exif.ts';

type Raw = Record<string, unknown>;

export interface Gps {
  latitude: number;
  longitude: number;
  altitude: number | null;
}

function dmsToDecimal(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const [d = 0, m = 0, s = 0] = value as number[];
  const decimal = d + m / 60 + s / 3600;
  return Number.isFinite(decimal) ? decimal : undefined;
}

/** GPS IFD → signed decimal degrees and metres (below sea level is negative). */
export function toGps(gps: Raw | undefined): Gps | null {
  if (!gps) return null;
  const lat = dmsToDecimal(gps.GPSLatitude);
  const lon = dmsToDecimal(gps.GPSLongitude);
  if (lat === undefined || lon === undefined) return null;
  const latitude = String(gps.GPSLatitudeRef ?? 'N')
    .toUpperCase()
    .startsWith('S')
    ? -lat
    : lat;
  const longitude = String(gps.GPSLongitudeRef ?? 'E')
    .toUpperCase()
    .startsWith('W')
    ? -lon
    : lon;
  const altitudeRaw = asNumber(gps.GPSAltitude);
  const refRaw = gps.GPSAltitudeRef;
  const below = refRaw instanceof Uint8Array ? refRaw[0] === 1 : asNumber(refRaw) === 1;
  const altitude =
    altitudeRaw === undefined || !Number.isFinite(altitudeRaw) ? null : below ? -altitudeRaw : altitudeRaw;
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return null;
  return {
    latitude: round(latitude, 8),
    longitude: round(longitude, 8),
    altitude: altitude === null ? null : round(altitude, 3),
  };
}

function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}

/**
 * GPS that only XMP carries (`exif:GPSLatitude="48,51.396N"`: degrees, minutes with a fraction or
 * minutes and seconds, then the hemisphere), as exiftool reads it when EXIF has none.
 */
export function gpsFromXmp(exif: Record<string, unknown> | undefined): Gps | null {
  if (!exif) return null;
  const lat = xmpCoordinate(exif.GPSLatitude, 'N', 'S');
  const lon = xmpCoordinate(exif.GPSLongitude, 'E', 'W');
  if (lat === undefined || lon === undefined || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  const alt = xmpRational(exif.GPSAltitude);
  const below = asNumber(exif.GPSAltitudeRef) === 1;
  return {
    latitude: round(lat, 8),
    longitude: round(lon, 8),
    altitude: alt === undefined ? null : round(below ? -alt : alt, 3),
  };
}

function xmpCoordinate(v: unknown, positive: string, negative: string): number | undefined {
  if (typeof v !== 'string' || v.length > 64) return undefined;
  const m = /^\s*(\d{1,3}),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?\s*([NSEWnsew])\s*$/.exec(v);
  if (!m) return undefined;
  const value = Number(m[1]) + Number(m[2]) / 60 + (m[3] ? Number(m[3]) / 3600 : 0);
  const hemisphere = m[4].toUpperCase();
  if (hemisphere !== positive && hemisphere !== negative) return undefined;
  return hemisphere === negative ? -value : value;
}

function xmpRational(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string' || v.length > 40) return undefined;
  const m = /^\s*(-?\d+(?:\.\d+)?)(?:\/(\d+))?\s*$/.exec(v);
  if (!m) return undefined;
  const den = m[2] ? Number(m[2]) : 1;
  return den === 0 ? undefined : Number(m[1]) / den;
}
