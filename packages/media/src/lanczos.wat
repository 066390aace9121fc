;; The hot loops of pHash and dHash (see hashes.ts): Pillow's RGB → L conversion of one row and
;; Pillow's horizontal Lanczos pass (ImagingResampleHorizontal_8bpc) of one row, bit for bit.
;;
;; Pillow multiplies 8-bit pixels by 32-bit fixed-point coefficients (|k| ≤ 2^22) and sums in
;; a 32-bit int. WebAssembly SIMD's i32x4.dot_i16x8_s does eight 16-bit multiply-adds at once,
;; so each coefficient is split as k = hi·2^11 + lo with lo in [0, 2^11) and hi in [−2^11, 2^11]:
;; both halves fit 16 bits, and Σ px·k = (Σ px·hi)·2^11 + Σ px·lo. All sums wrap modulo 2^32
;; exactly as Pillow's would if they overflowed, and Pillow's true sum fits 32 bits, so the
;; result is Pillow's exactly whatever the grouping. Windows are read eight pixels at a time:
;; the coefficient rows are padded with zeros to a multiple of eight, and the row buffer has
;; eight spare bytes after its end.
;;
;; Built into lanczos.wasm by `npm run wasm` (wabt); a test checks the two agree.
(module
  (memory (export "memory") 1)

  ;; L = (R·19595 + G·38470 + B·7471 + 2^15) >> 16 (Pillow's L24); one or two channels: the first.
  (func (export "greyRow") (param $src i32) (param $dst i32) (param $n i32) (param $channels i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (local.get $n)))
    (if (i32.lt_u (local.get $channels) (i32.const 3))
      (then
        (loop $copy
          (if (i32.lt_u (local.get $dst) (local.get $end))
            (then
              (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
              (local.set $src (i32.add (local.get $src) (local.get $channels)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
              (br $copy))))
        (return)))
    (loop $luma
      (if (i32.lt_u (local.get $dst) (local.get $end))
        (then
          (i32.store8
            (local.get $dst)
            (i32.shr_u
              (i32.add
                (i32.add
                  (i32.mul (i32.load8_u (local.get $src)) (i32.const 19595))
                  (i32.mul (i32.load8_u offset=1 (local.get $src)) (i32.const 38470)))
                (i32.add
                  (i32.mul (i32.load8_u offset=2 (local.get $src)) (i32.const 7471))
                  (i32.const 32768)))
              (i32.const 16)))
          (local.set $src (i32.add (local.get $src) (local.get $channels)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
          (br $luma)))))

  ;; One row of the horizontal pass. For output pixel x: bounds[x] = (first input pixel, count);
  ;; hi/lo hold `stride` 16-bit halves per output pixel (zero beyond count).
  (func (export "horizontalRow")
    (param $row i32) (param $outW i32) (param $bounds i32) (param $hi i32) (param $lo i32)
    (param $stride i32) (param $out i32)
    (local $x i32) (local $p i32) (local $kh i32) (local $kl i32) (local $blocks i32)
    (local $px v128) (local $acch v128) (local $accl v128) (local $ss i32)
    (loop $outputs
      (if (i32.lt_u (local.get $x) (local.get $outW))
        (then
          (local.set $p (i32.add (local.get $row) (i32.load (local.get $bounds))))
          (local.set $blocks (i32.shr_u (i32.add (i32.load offset=4 (local.get $bounds)) (i32.const 7)) (i32.const 3)))
          (local.set $kh (i32.add (local.get $hi) (i32.shl (i32.mul (local.get $x) (local.get $stride)) (i32.const 1))))
          (local.set $kl (i32.add (local.get $lo) (i32.shl (i32.mul (local.get $x) (local.get $stride)) (i32.const 1))))
          (local.set $acch (v128.const i32x4 0 0 0 0))
          (local.set $accl (v128.const i32x4 0 0 0 0))
          (loop $window
            (if (local.get $blocks)
              (then
                (local.set $px (v128.load8x8_u (local.get $p)))
                (local.set $acch (i32x4.add (local.get $acch) (i32x4.dot_i16x8_s (local.get $px) (v128.load (local.get $kh)))))
                (local.set $accl (i32x4.add (local.get $accl) (i32x4.dot_i16x8_s (local.get $px) (v128.load (local.get $kl)))))
                (local.set $p (i32.add (local.get $p) (i32.const 8)))
                (local.set $kh (i32.add (local.get $kh) (i32.const 16)))
                (local.set $kl (i32.add (local.get $kl) (i32.const 16)))
                (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
                (br $window))))
          ;; ss = 2^21 (Pillow's rounding half) + Σhi·2^11 + Σlo
          (local.set $ss
            (i32.add
              (i32.add (i32.const 2097152)
                (i32.shl
                  (i32.add
                    (i32.add (i32x4.extract_lane 0 (local.get $acch)) (i32x4.extract_lane 1 (local.get $acch)))
                    (i32.add (i32x4.extract_lane 2 (local.get $acch)) (i32x4.extract_lane 3 (local.get $acch))))
                  (i32.const 11)))
              (i32.add
                (i32.add (i32x4.extract_lane 0 (local.get $accl)) (i32x4.extract_lane 1 (local.get $accl)))
                (i32.add (i32x4.extract_lane 2 (local.get $accl)) (i32x4.extract_lane 3 (local.get $accl))))))
          ;; Pillow's clip8: ≥ 2^30 → 255, ≤ 0 → 0, else ss >> 22
          (i32.store8
            (i32.add (local.get $out) (local.get $x))
            (if (result i32) (i32.ge_s (local.get $ss) (i32.const 1073741824))
              (then (i32.const 255))
              (else
                (if (result i32) (i32.le_s (local.get $ss) (i32.const 0))
                  (then (i32.const 0))
                  (else (i32.shr_s (local.get $ss) (i32.const 22)))))))
          (local.set $bounds (i32.add (local.get $bounds) (i32.const 8)))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br $outputs))))))
