//! An append-only array of fixed-width rows of `Copy` values with lock-free reads:
//! the storage of vector columns (a row is one vector) and of small per-slot facts.
//!
//! Rows live in buckets that double in size (64, 128, 256, ... rows) and are never
//! moved, so a reader's `&[T]` stays valid while the arena lives and the writer keeps
//! appending. A row's values are contiguous, and a bucket starts on a 64-byte
//! boundary: a vector whose byte length is a multiple of 64 (384 FLOAT32 is 1,536
//! bytes) starts every row on a cache line, as SIMD kernels like.
//!
//! Publication: the writer fills the row (allocating its bucket first when needed),
//! then stores the new length with `Release`; a reader loads the length with
//! `Acquire` and reads only rows below it. So a reader never sees a half-written row,
//! whatever horizon its caller passes.
#![expect(
    unsafe_code,
    reason = "stable row addresses across appends: readers hold `&[T]` into buckets the \
              writer never moves, published by a Release store of the length"
)]

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr;
use std::slice;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// Bucket 0 holds `1 << FIRST_SHIFT` rows; bucket `b` holds `1 << (b + FIRST_SHIFT)`.
const FIRST_SHIFT: u32 = 6;
/// Enough buckets for every `u32` slot: `64 × (2^27 − 1) ≥ 2^32`.
const BUCKETS: usize = 27;
/// Bucket alignment: a cache line, and enough for any AVX-512 load.
const ALIGN: usize = 64;

/// The bucket holding `row`, and the row's index inside it.
#[inline(always)]
fn locate(row: usize) -> (usize, usize) {
    let shifted = row + (1 << FIRST_SHIFT);
    let bucket = (usize::BITS - 1 - shifted.leading_zeros() - FIRST_SHIFT) as usize;
    (bucket, shifted - (1 << (bucket + FIRST_SHIFT as usize)))
}

/// Rows in bucket `bucket`.
fn bucket_rows(bucket: usize) -> usize {
    1 << (bucket + FIRST_SHIFT as usize)
}

/// Append-only rows of `width` values of `T`; one writer at a time, any number of
/// readers.
pub(crate) struct Arena<T> {
    width: usize,
    buckets: [AtomicPtr<T>; BUCKETS],
    /// Rows published to readers.
    len: AtomicUsize,
    /// Set while a `push` runs: a second, concurrent writer panics instead of racing.
    writing: AtomicBool,
    /// The arena owns `T`s (for `Send`/`Sync`, which the pointers alone would not tie
    /// to `T`).
    _owns: PhantomData<T>,
}

impl<T> std::fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("width", &self.width)
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T: Copy> Arena<T> {
    /// An empty arena of rows of `width` values. Nothing is allocated until the first
    /// push.
    pub fn new(width: usize) -> Arena<T> {
        // A zero width or a zero-sized `T` would make every row the same empty
        // allocation; no caller needs either, so they are refused outright.
        assert!(
            width > 0 && size_of::<T>() > 0,
            "arena rows must have bytes"
        );
        Arena {
            width,
            buckets: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            len: AtomicUsize::new(0),
            writing: AtomicBool::new(false),
            _owns: PhantomData,
        }
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Rows published so far.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// The layout of bucket `bucket`, or `None` when it could not be addressed.
    fn layout(&self, bucket: usize) -> Option<Layout> {
        let bytes = bucket_rows(bucket)
            .checked_mul(self.width)?
            .checked_mul(size_of::<T>())?;
        Layout::from_size_align(bytes, ALIGN.max(align_of::<T>())).ok()
    }

    /// Row `row`, if it has been published.
    #[inline(always)]
    pub fn get(&self, row: usize) -> Option<&[T]> {
        if row >= self.len.load(Ordering::Acquire) {
            return None;
        }
        let (bucket, index) = locate(row);
        // Stored before the Release store of a length above `row`, which the Acquire
        // load above saw: this load sees it, and it is not null.
        let base = self.buckets[bucket].load(Ordering::Acquire);
        // SAFETY: `row < len`, so the writer allocated `bucket` (with room for
        // `bucket_rows(bucket) × width` values, `index < bucket_rows(bucket)`) and
        // wrote all `width` values of the row before its Release store of `len`; our
        // Acquire load of `len` orders those writes before this read. The row is never
        // written again and the bucket is freed only in `drop`, which needs `&mut
        // self`, so the slice lives as long as `&self` and nothing mutates it.
        unsafe {
            Some(slice::from_raw_parts(
                base.add(index * self.width),
                self.width,
            ))
        }
    }

    /// Appends one row and publishes it; returns its index.
    ///
    /// # Panics
    ///
    /// When another `push` on this arena is running (the memtable has one writer, so
    /// that is a caller's bug, caught here rather than left to corrupt a row), when
    /// `values` is not `width` long, or when the arena already holds every `u32` row
    /// (the memtable's slots are `u32`).
    pub fn push(&self, values: &[T]) -> usize {
        assert!(
            !self.writing.swap(true, Ordering::Acquire),
            "two writers pushed into one arena at once"
        );
        assert_eq!(values.len(), self.width, "arena row of the wrong width");
        // Only the writer stores `len`, so Relaxed reads back its own last store.
        let row = self.len.load(Ordering::Relaxed);
        assert!(row <= u32::MAX as usize, "arena full");
        let (bucket, index) = locate(row);
        let mut base = self.buckets[bucket].load(Ordering::Relaxed);
        if base.is_null() {
            let Some(layout) = self.layout(bucket) else {
                panic!(
                    "arena bucket {bucket} of {} values is too large",
                    self.width
                );
            };
            // SAFETY: the layout has a non-zero size (`width > 0`, `T` not zero-sized,
            // checked in `new`).
            base = unsafe { alloc::alloc(layout) }.cast::<T>();
            if base.is_null() {
                alloc::handle_alloc_error(layout);
            }
            self.buckets[bucket].store(base, Ordering::Release);
        }
        // SAFETY: the bucket holds `bucket_rows(bucket) × width` values and `index <
        // bucket_rows(bucket)`, so the `width` values from `index × width` are inside
        // it. No reader reads this row yet (`row >= len`, and readers read only below
        // `len`), and the `writing` flag we set makes us the only writer, so nothing
        // aliases the destination; `values` is a shared borrow of other memory (the
        // destination was never handed out), so the two do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(values.as_ptr(), base.add(index * self.width), self.width);
        }
        self.len.store(row + 1, Ordering::Release);
        self.writing.store(false, Ordering::Release);
        row
    }

    /// Published rows, in order, from `from`.
    pub fn rows_from(&self, from: usize) -> impl Iterator<Item = &[T]> + '_ {
        (from..self.len()).filter_map(|row| self.get(row))
    }
}

impl<T> Drop for Arena<T> {
    fn drop(&mut self) {
        for (bucket, pointer) in self.buckets.iter_mut().enumerate() {
            let base = *pointer.get_mut();
            if base.is_null() {
                continue;
            }
            let layout = Layout::from_size_align(
                bucket_rows(bucket) * self.width * size_of::<T>(),
                ALIGN.max(align_of::<T>()),
            )
            .expect("the layout was valid when the bucket was allocated");
            // SAFETY: `base` came from `alloc` with this same layout (same bucket,
            // width and `T`), is freed once (we hold `&mut self`, and the arena is
            // being dropped), and `T: Copy` values (the only kind pushed) need no drop.
            unsafe { alloc::dealloc(base.cast::<u8>(), layout) };
        }
    }
}

// SAFETY: the arena owns its `T`s; moving it to another thread moves them, which is
// sound when `T: Send`.
unsafe impl<T: Send> Send for Arena<T> {}
// SAFETY: shared access hands out `&T` (needs `T: Sync`) and lets `push` write values
// that another thread then reads (needs `T: Send`); pushes are serialised by the
// `writing` flag, and reads of published rows are ordered by the length's
// Release/Acquire pair.
unsafe impl<T: Send + Sync> Sync for Arena<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cross_buckets_intact_and_unpublished_rows_are_absent() {
        for width in [1usize, 3, 384] {
            let arena = Arena::<f32>::new(width);
            assert!(arena.get(0).is_none());
            let count = 64 + 128 + 256 + 5;
            for row in 0..count {
                let values: Vec<f32> = (0..width).map(|i| (row * 1000 + i) as f32).collect();
                assert_eq!(arena.push(&values), row);
            }
            assert_eq!(arena.len(), count);
            for row in 0..count {
                let got = arena.get(row).unwrap();
                assert_eq!(got.len(), width);
                assert!(got
                    .iter()
                    .enumerate()
                    .all(|(i, v)| *v == (row * 1000 + i) as f32));
            }
            assert!(arena.get(count).is_none());
            assert_eq!(arena.rows_from(count - 2).count(), 2);
            // Each bucket starts on a cache line.
            for bucket_start in [0usize, 64, 192, 448] {
                assert_eq!(
                    arena.get(bucket_start).unwrap().as_ptr() as usize % ALIGN,
                    0
                );
            }
        }
    }

    #[test]
    fn a_push_while_another_runs_panics_and_publishes_nothing() {
        let arena = Arena::<u32>::new(1);
        arena.push(&[7]);
        // As a second writer finds it while the first is inside `push`.
        arena.writing.store(true, Ordering::Release);
        let second = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| arena.push(&[8])));
        assert!(second.is_err());
        assert_eq!(arena.len(), 1);
        assert_eq!(arena.get(0), Some(&[7][..]));
        assert_eq!(arena.get(1), None);
    }

    #[test]
    fn locate_maps_rows_to_consecutive_bucket_positions() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let (last, index) = locate(u32::MAX as usize);
        assert!(last < BUCKETS && index < bucket_rows(last));
    }
}
