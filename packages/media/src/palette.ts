/** Dominant colours by k-means on a small thumbnail; deterministic (no random init). */
export interface PaletteEntry {
  color: string;
  weight: number;
}

export function dominantColors(rgba: Uint8Array, channels: number, k = 5): PaletteEntry[] {
  const points: [number, number, number][] = [];
  for (let i = 0; i + channels <= rgba.length; i += channels) {
    if (channels === 4 && rgba[i + 3] < 128) continue; // transparent pixels have no colour to speak of
    points.push(channels >= 3 ? [rgba[i], rgba[i + 1], rgba[i + 2]] : [rgba[i], rgba[i], rgba[i]]);
  }
  if (points.length === 0) return [];
  const centers = initialCenters(points, k);
  const assignment = new Int32Array(points.length);
  for (let iter = 0; iter < 10; iter++) {
    for (let p = 0; p < points.length; p++) assignment[p] = nearest(points[p], centers);
    const sums = centers.map(() => [0, 0, 0, 0]);
    for (let p = 0; p < points.length; p++) {
      const s = sums[assignment[p]];
      s[0] += points[p][0];
      s[1] += points[p][1];
      s[2] += points[p][2];
      s[3]++;
    }
    for (let c = 0; c < centers.length; c++) {
      if (sums[c][3] > 0)
        centers[c] = [sums[c][0] / sums[c][3], sums[c][1] / sums[c][3], sums[c][2] / sums[c][3]];
    }
  }
  const counts = new Array(centers.length).fill(0);
  for (let p = 0; p < points.length; p++) counts[assignment[p]]++;
  return centers
    .map((c, i) => ({ color: hex(c), weight: Number((counts[i] / points.length).toFixed(4)) }))
    .filter((e) => e.weight > 0)
    .sort((a, b) => b.weight - a.weight);
}

/** Farthest-point initialisation from the mean colour. */
function initialCenters(points: [number, number, number][], k: number): [number, number, number][] {
  const mean: [number, number, number] = [0, 0, 0];
  for (const p of points) for (let i = 0; i < 3; i++) mean[i] += p[i] / points.length;
  const centers: [number, number, number][] = [];
  let candidate = points[0];
  let best = -1;
  for (const p of points) {
    const d = dist(p, mean);
    if (d > best) {
      best = d;
      candidate = p;
    }
  }
  centers.push([...candidate]);
  while (centers.length < k) {
    let far = -1;
    let pick: [number, number, number] | undefined;
    for (const p of points) {
      const d = Math.min(...centers.map((c) => dist(p, c)));
      if (d > far) {
        far = d;
        pick = p;
      }
    }
    if (!pick || far === 0) break;
    centers.push([...pick]);
  }
  return centers;
}

function nearest(p: [number, number, number], centers: [number, number, number][]): number {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  for (let c = 0; c < centers.length; c++) {
    const d = dist(p, centers[c]);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function dist(a: readonly number[], b: readonly number[]): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}

function hex(c: readonly number[]): string {
  return `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
}
