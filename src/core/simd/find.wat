;; A substring search over a block of this module's memory, 64 bytes per step with 128-bit SIMD.
;;
;; Node's Buffer.indexOf looks for a short needle by calling memchr for its first byte and comparing the rest; for
;; `"usage"` that first byte is a quote, which JSON has every few bytes, so most of a large log's scan went to
;; memchr calls. Here two bytes of the needle chosen by the caller as rare (for `"usage"`: `u` and `g`) are compared
;; at 64 start positions per step (one test tells whether any of them has both), and only the positions where both
;; match are compared in full. 64 rather than 32 per step: 20 -> 30 GB/s on 159 MB of transcripts, in cache.
;;
;; Built into findWasm.ts by `node scripts/build-wasm.js` (wabt); a unit test checks the two agree.

(module
  (import "env" "memory" (memory 1))

  ;; 1 when the `len` bytes at `a` equal those at `b`.
  (func $equal (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $j i32)
    (block $differ
      (loop $next
        (if (i32.ge_u (local.get $j) (local.get $len)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $j)))
                               (i32.load8_u (i32.add (local.get $b) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; The first index in [from, end - len] where the `len` bytes at `needle` start, or -1. `p1` and `p2` are two
  ;; offsets into the needle (0 <= p < len) of bytes that are rare in the haystack. Reads only [from, end).
  (func (export "find") (param $from i32) (param $end i32) (param $needle i32) (param $len i32) (param $p1 i32) (param $p2 i32) (result i32)
    (local $b1 v128) (local $b2 v128) (local $mask i32) (local $at i32) (local $i i32) (local $last i32)
    (local $q1 i32) (local $q2 i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $last (i32.sub (local.get $end) (local.get $len)))
    (if (i32.lt_s (local.get $last) (local.get $from)) (then (return (i32.const -1))))
    (local.set $b1 (i8x16.splat (i32.load8_u (i32.add (local.get $needle) (local.get $p1)))))
    (local.set $b2 (i8x16.splat (i32.load8_u (i32.add (local.get $needle) (local.get $p2)))))
    (local.set $i (local.get $from))
    ;; 64 start positions per step while they fit: most steps find neither rare byte pair, and one test of all four
    ;; vectors skips them; a step with a pair gets the exact masks below, its first half first.
    (block $wideDone
      (loop $wide
        (br_if $wideDone (i32.gt_s (i32.add (local.get $i) (i32.const 63)) (local.get $last)))
        (local.set $q1 (i32.add (local.get $i) (local.get $p1)))
        (local.set $q2 (i32.add (local.get $i) (local.get $p2)))
        (local.set $a0 (v128.and (i8x16.eq (v128.load (local.get $q1)) (local.get $b1))
                                 (i8x16.eq (v128.load (local.get $q2)) (local.get $b2))))
        (local.set $a1 (v128.and (i8x16.eq (v128.load offset=16 (local.get $q1)) (local.get $b1))
                                 (i8x16.eq (v128.load offset=16 (local.get $q2)) (local.get $b2))))
        (local.set $a2 (v128.and (i8x16.eq (v128.load offset=32 (local.get $q1)) (local.get $b1))
                                 (i8x16.eq (v128.load offset=32 (local.get $q2)) (local.get $b2))))
        (local.set $a3 (v128.and (i8x16.eq (v128.load offset=48 (local.get $q1)) (local.get $b1))
                                 (i8x16.eq (v128.load offset=48 (local.get $q2)) (local.get $b2))))
        (if (v128.any_true (v128.or (v128.or (local.get $a0) (local.get $a1)) (v128.or (local.get $a2) (local.get $a3))))
          (then
            (local.set $mask (i32.or (i8x16.bitmask (local.get $a0)) (i32.shl (i8x16.bitmask (local.get $a1)) (i32.const 16))))
            (block $firstDone
              (loop $first
                (br_if $firstDone (i32.eqz (local.get $mask)))
                (local.set $at (i32.add (local.get $i) (i32.ctz (local.get $mask))))
                (if (call $equal (local.get $at) (local.get $needle) (local.get $len)) (then (return (local.get $at))))
                (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
                (br $first)))
            (local.set $mask (i32.or (i8x16.bitmask (local.get $a2)) (i32.shl (i8x16.bitmask (local.get $a3)) (i32.const 16))))
            (block $secondDone
              (loop $second
                (br_if $secondDone (i32.eqz (local.get $mask)))
                (local.set $at (i32.add (i32.add (local.get $i) (i32.const 32)) (i32.ctz (local.get $mask))))
                (if (call $equal (local.get $at) (local.get $needle) (local.get $len)) (then (return (local.get $at))))
                (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
                (br $second)))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $wide)))
    (block $blocksDone
      (loop $block
        ;; 32 start positions i .. i + 31, each needing bytes up to i + 31 + len - 1 < end.
        (br_if $blocksDone (i32.gt_s (i32.add (local.get $i) (i32.const 31)) (local.get $last)))
        (local.set $mask (i32.or
          (i8x16.bitmask (v128.and
            (i8x16.eq (v128.load (i32.add (local.get $i) (local.get $p1))) (local.get $b1))
            (i8x16.eq (v128.load (i32.add (local.get $i) (local.get $p2))) (local.get $b2))))
          (i32.shl
            (i8x16.bitmask (v128.and
              (i8x16.eq (v128.load offset=16 (i32.add (local.get $i) (local.get $p1))) (local.get $b1))
              (i8x16.eq (v128.load offset=16 (i32.add (local.get $i) (local.get $p2))) (local.get $b2))))
            (i32.const 16))))
        (block $candidatesDone
          (loop $candidate
            (br_if $candidatesDone (i32.eqz (local.get $mask)))
            (local.set $at (i32.add (local.get $i) (i32.ctz (local.get $mask))))
            (if (call $equal (local.get $at) (local.get $needle) (local.get $len)) (then (return (local.get $at))))
            (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
            (br $candidate)))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $block)))
    ;; The last start positions, one at a time.
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.gt_s (local.get $i) (local.get $last)))
        (if (call $equal (local.get $i) (local.get $needle) (local.get $len)) (then (return (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (i32.const -1))
)
