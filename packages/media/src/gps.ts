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
