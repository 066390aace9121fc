/**
 * scipy.fftpack.dct (type II, unnormalised) computed the way scipy computes it, operation for
 * operation, so that pHash is bit-identical with imagehash even where DCT terms tie with their
 * median. scipy ≥ 1.4 runs pocketfft's C++ header: the DCT-II of length N is a backward real FFT
 * of a reordered input (T_dcst23) followed by a twiddle step, and the real FFT is a mixed-radix
 * FFTPACK-style transform (rfftp: radb4/radb2) with twiddles from sincos_2pibyn. A textbook DCT
 * (a sum of cosine products) gives the same values to within a few ulps, but the median
 * comparison of a two-level image is decided by those ulps.
 *
 * Only powers of two are supported (pHash uses N = 32): the radices are then 4 and 2, and
 * pocketfft's angle `0.25L*pi/n` rounds to exactly `Math.PI / (4n)`. Every expression below
 * keeps the C++ evaluation order; x86-64's baseline has no fused multiply-add, so neither do we.
 */

/**
 * cos and sin of a double, correctly rounded. glibc's (which scipy calls) are correctly rounded
 * in practice; V8's fdlibm-derived Math.cos/Math.sin are within one ulp but not always the
 * nearest double (10 of pocketfft's 129 angles for n = 128 differ), and a one-ulp twiddle
 * changes DCT terms. A Taylor series in 256-bit fixed point, then round-half-even; only used
 * for the few dozen twiddles of a plan.
 */
const FRAC = 256n;
function fixedOf(a: number): bigint {
  if (a === 0) return 0n;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const bits = buf.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (exp ? 1n << 52n : 0n);
  const e = BigInt((exp || 1) - 1075); // a = mant · 2^e
  const shift = FRAC + e;
  const v = shift >= 0n ? mant << shift : mant >> -shift;
  return a < 0 ? -v : v;
}
function roundFixed(v: bigint): number {
  if (v === 0n) return 0;
  const neg = v < 0n;
  let m = neg ? -v : v;
  const len = BigInt(m.toString(2).length);
  let shift = len - 53n;
  if (shift > 0n) {
    const rem = m & ((1n << shift) - 1n);
    const half = 1n << (shift - 1n);
    m >>= shift;
    if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
  } else shift = 0n;
  const r = Number(m) * 2 ** Number(shift - FRAC);
  return neg ? -r : r;
}
export function sinCosCorrect(a: number, wantSin: boolean): number {
  const x = fixedOf(a);
  const one = 1n << FRAC;
  const x2 = (x * x) >> FRAC;
  let term = wantSin ? x : one;
  let sum = term;
  for (let k = wantSin ? 2n : 1n; term !== 0n; k += 2n) {
    term = -((term * x2) >> FRAC) / (k * (k + 1n));
    sum += term;
  }
  return roundFixed(sum);
}
const cosCR = (a: number) => sinCosCorrect(a, false);
const sinCR = (a: number) => sinCosCorrect(a, true);

interface Complex {
  r: number;
  i: number;
}

/** pocketfft's sincos_2pibyn(n)[idx] = (cos 2π·idx/n, sin 2π·idx/n), from two small tables. */
function sincos2PiByN(n: number): (idx: number) => Complex {
  const ang = Math.PI / (4 * n);
  const calc = (xIn: number): Complex => {
    let x = xIn * 8;
    if (x < 4 * n) {
      if (x < 2 * n) {
        if (x < n) return { r: cosCR(x * ang), i: sinCR(x * ang) };
        return { r: sinCR((2 * n - x) * ang), i: cosCR((2 * n - x) * ang) };
      }
      x -= 2 * n;
      if (x < n) return { r: -sinCR(x * ang), i: cosCR(x * ang) };
      return { r: -cosCR((2 * n - x) * ang), i: sinCR((2 * n - x) * ang) };
    }
    x = 8 * n - x;
    if (x < 2 * n) {
      if (x < n) return { r: cosCR(x * ang), i: -sinCR(x * ang) };
      return { r: sinCR((2 * n - x) * ang), i: -cosCR((2 * n - x) * ang) };
    }
    x -= 2 * n;
    if (x < n) return { r: -sinCR(x * ang), i: -cosCR(x * ang) };
    return { r: -cosCR((2 * n - x) * ang), i: -sinCR((2 * n - x) * ang) };
  };
  const nval = Math.floor((n + 2) / 2);
  let shift = 1;
  while ((1 << shift) * (1 << shift) < nval) shift++;
  const mask = (1 << shift) - 1;
  const v1: Complex[] = [{ r: 1, i: 0 }];
  for (let i = 1; i <= mask; i++) v1.push(calc(i));
  const v2: Complex[] = [{ r: 1, i: 0 }];
  const v2len = Math.floor((nval + mask) / (mask + 1));
  for (let i = 1; i < v2len; i++) v2.push(calc(i * (mask + 1)));
  return (idxIn: number) => {
    const conj = 2 * idxIn > n;
    const idx = conj ? n - idxIn : idxIn;
    const x1 = v1[idx & mask];
    const x2 = v2[idx >> shift];
    const r = x1.r * x2.r - x1.i * x2.i;
    const i = x1.r * x2.i + x1.i * x2.r;
    return { r, i: conj ? -i : i };
  };
}

interface Factor {
  ip: 2 | 4;
  tw: Float64Array;
}

/** rfftp's factorize + comp_twiddle for a power of two. */
function realFftPlan(length: number): Factor[] {
  const fct: (2 | 4)[] = [];
  let len = length;
  while (len % 4 === 0) {
    fct.push(4);
    len >>= 2;
  }
  if (len % 2 === 0) {
    len >>= 1;
    fct.push(2);
    [fct[0], fct[fct.length - 1]] = [fct[fct.length - 1], fct[0]];
  }
  if (len !== 1) throw new RangeError(`pocketfft port: ${length} is not a power of two`);
  const twid = sincos2PiByN(length);
  const plan: Factor[] = [];
  let l1 = 1;
  for (let k = 0; k < fct.length; k++) {
    const ip = fct[k];
    const ido = length / (l1 * ip);
    const tw = new Float64Array(k < fct.length - 1 ? (ip - 1) * (ido - 1) : 0);
    if (k < fct.length - 1) {
      for (let j = 1; j < ip; j++) {
        for (let i = 1; i <= (ido - 1) >> 1; i++) {
          const t = twid(j * l1 * i);
          tw[(j - 1) * (ido - 1) + 2 * i - 2] = t.r;
          tw[(j - 1) * (ido - 1) + 2 * i - 1] = t.i;
        }
      }
    }
    plan.push({ ip, tw });
    l1 *= ip;
  }
  return plan;
}

function radb2(ido: number, l1: number, cc: Float64Array, ch: Float64Array, wa: Float64Array): void {
  const WA = (x: number, i: number) => wa[i + x * (ido - 1)];
  const CC = (a: number, b: number, c: number) => cc[a + ido * (b + 2 * c)];
  const CH = (a: number, b: number, c: number) => a + ido * (b + l1 * c);
  for (let k = 0; k < l1; k++) {
    const c = CC(0, 0, k);
    const d = CC(ido - 1, 1, k);
    ch[CH(0, k, 0)] = c + d;
    ch[CH(0, k, 1)] = c - d;
  }
  if ((ido & 1) === 0) {
    for (let k = 0; k < l1; k++) {
      ch[CH(ido - 1, k, 0)] = 2 * CC(ido - 1, 0, k);
      ch[CH(ido - 1, k, 1)] = -2 * CC(0, 1, k);
    }
  }
  if (ido <= 2) return;
  for (let k = 0; k < l1; k++) {
    for (let i = 2; i < ido; i += 2) {
      const ic = ido - i;
      const a1 = CC(i - 1, 0, k);
      const b1 = CC(ic - 1, 1, k);
      ch[CH(i - 1, k, 0)] = a1 + b1;
      const tr2 = a1 - b1;
      const a2 = CC(i, 0, k);
      const b2 = CC(ic, 1, k);
      const ti2 = a2 + b2;
      ch[CH(i, k, 0)] = a2 - b2;
      // MULPM(a, b, c, d, e, f): a = c·e + d·f, b = c·f − d·e
      const c = WA(0, i - 2);
      const d = WA(0, i - 1);
      ch[CH(i, k, 1)] = c * ti2 + d * tr2;
      ch[CH(i - 1, k, 1)] = c * tr2 - d * ti2;
    }
  }
}

function radb4(ido: number, l1: number, cc: Float64Array, ch: Float64Array, wa: Float64Array): void {
  const SQRT2 = Math.SQRT2; // 1.4142135623730951, the same double
  const WA = (x: number, i: number) => wa[i + x * (ido - 1)];
  const CC = (a: number, b: number, c: number) => cc[a + ido * (b + 4 * c)];
  const CH = (a: number, b: number, c: number) => a + ido * (b + l1 * c);
  for (let k = 0; k < l1; k++) {
    const tr2 = CC(0, 0, k) + CC(ido - 1, 3, k);
    const tr1 = CC(0, 0, k) - CC(ido - 1, 3, k);
    const tr3 = 2 * CC(ido - 1, 1, k);
    const tr4 = 2 * CC(0, 2, k);
    ch[CH(0, k, 0)] = tr2 + tr3;
    ch[CH(0, k, 2)] = tr2 - tr3;
    ch[CH(0, k, 3)] = tr1 + tr4;
    ch[CH(0, k, 1)] = tr1 - tr4;
  }
  if ((ido & 1) === 0) {
    for (let k = 0; k < l1; k++) {
      const ti1 = CC(0, 3, k) + CC(0, 1, k);
      const ti2 = CC(0, 3, k) - CC(0, 1, k);
      const tr2 = CC(ido - 1, 0, k) + CC(ido - 1, 2, k);
      const tr1 = CC(ido - 1, 0, k) - CC(ido - 1, 2, k);
      ch[CH(ido - 1, k, 0)] = tr2 + tr2;
      ch[CH(ido - 1, k, 1)] = SQRT2 * (tr1 - ti1);
      ch[CH(ido - 1, k, 2)] = ti2 + ti2;
      ch[CH(ido - 1, k, 3)] = -SQRT2 * (tr1 + ti1);
    }
  }
  if (ido <= 2) return;
  for (let k = 0; k < l1; k++) {
    for (let i = 2; i < ido; i += 2) {
      const ic = ido - i;
      const tr2 = CC(i - 1, 0, k) + CC(ic - 1, 3, k);
      const tr1 = CC(i - 1, 0, k) - CC(ic - 1, 3, k);
      const ti1 = CC(i, 0, k) + CC(ic, 3, k);
      const ti2 = CC(i, 0, k) - CC(ic, 3, k);
      const tr4 = CC(i, 2, k) + CC(ic, 1, k);
      const ti3 = CC(i, 2, k) - CC(ic, 1, k);
      const tr3 = CC(i - 1, 2, k) + CC(ic - 1, 1, k);
      const ti4 = CC(i - 1, 2, k) - CC(ic - 1, 1, k);
      ch[CH(i - 1, k, 0)] = tr2 + tr3;
      const cr3 = tr2 - tr3;
      ch[CH(i, k, 0)] = ti2 + ti3;
      const ci3 = ti2 - ti3;
      const cr4 = tr1 + tr4;
      const cr2 = tr1 - tr4;
      const ci2 = ti1 + ti4;
      const ci4 = ti1 - ti4;
      const mulpm = (x: number, ci: number, cr: number) => {
        const c = WA(x, i - 2);
        const d = WA(x, i - 1);
        ch[CH(i, k, x + 1)] = c * ci + d * cr;
        ch[CH(i - 1, k, x + 1)] = c * cr - d * ci;
      };
      mulpm(0, ci2, cr2);
      mulpm(1, ci3, cr3);
      mulpm(2, ci4, cr4);
    }
  }
}

/** A DCT-II of one fixed length, planned once. */
export interface DctPlan {
  readonly length: number;
  /** In place: c ← scipy.fftpack.dct(c) (type 2, norm None). */
  exec(c: Float64Array): void;
}

export function dctPlan(length: number): DctPlan {
  const plan = realFftPlan(length);
  const tw4 = sincos2PiByN(4 * length);
  const twiddle = new Float64Array(length);
  for (let i = 0; i < length; i++) twiddle[i] = tw4(i + 1).r;
  const N = length;
  const NS2 = (N + 1) >> 1;
  const scratch = new Float64Array(N);

  /** rfftp::exec(c, 1, r2hc = false): the backward real FFT. */
  const backward = (c: Float64Array) => {
    let p1: Float64Array = c;
    let p2: Float64Array = scratch;
    let l1 = 1;
    for (const { ip, tw } of plan) {
      const ido = N / (ip * l1);
      if (ip === 4) radb4(ido, l1, p1, p2, tw);
      else radb2(ido, l1, p1, p2, tw);
      [p1, p2] = [p2, p1];
      l1 *= ip;
    }
    if (p1 !== c) c.set(p1);
  };

  return {
    length,
    exec(c: Float64Array) {
      if (c.length !== N) throw new RangeError(`dct plan of ${N} given ${c.length} values`);
      c[0] *= 2;
      if ((N & 1) === 0) c[N - 1] *= 2;
      for (let k = 1; k < N - 1; k += 2) {
        // MPINPLACE(c[k+1], c[k]): a -= b, b = old a + b
        const t = c[k + 1];
        c[k + 1] = t - c[k];
        c[k] = t + c[k];
      }
      backward(c);
      for (let k = 1, kc = N - 1; k < NS2; k++, kc--) {
        const t1 = twiddle[k - 1] * c[kc] + twiddle[kc - 1] * c[k];
        const t2 = twiddle[k - 1] * c[k] - twiddle[kc - 1] * c[kc];
        c[k] = 0.5 * (t1 + t2);
        c[kc] = 0.5 * (t1 - t2);
      }
      if ((N & 1) === 0) c[NS2] *= twiddle[NS2 - 1];
    },
  };
}

/** scipy.fftpack.dct(scipy.fftpack.dct(m, axis=0), axis=1) of an n×n row-major matrix. */
export function dct2d(matrix: ArrayLike<number>, n: number): Float64Array {
  const plan = dctPlan(n);
  const out = Float64Array.from(matrix);
  const line = new Float64Array(n);
  for (let col = 0; col < n; col++) {
    for (let r = 0; r < n; r++) line[r] = out[r * n + col];
    plan.exec(line);
    for (let r = 0; r < n; r++) out[r * n + col] = line[r];
  }
  for (let r = 0; r < n; r++) {
    const row = out.subarray(r * n, r * n + n);
    line.set(row);
    plan.exec(line);
    row.set(line);
  }
  return out;
}
