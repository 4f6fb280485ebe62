//! Software prefetch of the next rows' vectors and neighbour lists.
//!
//! A search hop reads ~32 neighbour vectors at random places (1.5 KB each at 384-d);
//! asking for them before the distance loop reaches them overlaps the cache misses
//! with arithmetic. A prefetch is a hint: it never faults and never changes memory,
//! so it is sound for any address, in bounds or not.
#![expect(
    unsafe_code,
    reason = "prefetch intrinsics are `unsafe fn` even though they cannot fault"
)]

/// Hints that the cache lines covering `data` (up to `max_lines` of 64 bytes, from
/// its start) will be read soon.
#[inline(always)]
pub(crate) fn prefetch_lines<T>(data: &[T], max_lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(data);
        let ptr = data.as_ptr().cast::<i8>();
        let lines = bytes.div_ceil(64).min(max_lines);
        for line in 0..lines {
            // SAFETY: `_mm_prefetch` only hints the cache; it performs no access that can
            // fault or be observed. The address is inside `data` (line * 64 < bytes).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(line * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (data, max_lines);
    }
}
