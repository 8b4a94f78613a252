//! A user-mode CPU time sampler for the calling thread, with `perf_event_open`.
//!
//! # Why not getrusage alone
//!
//! With tick-based CPU accounting (`CONFIG_TICK_CPU_ACCOUNTING`, the usual
//! kernel setting) the user/system split of `getrusage(RUSAGE_THREAD)` is a
//! sample taken at each timer tick (every 4 ms at `HZ=250`), scaled onto the
//! precise total and clamped so that neither part ever goes backwards: over a
//! one-second window where the thread spends 10% of its time in user mode,
//! that is a dozen ticks, and the clamp can report no user time at all. This
//! sampler does the same thing at a far finer grain: a software `task-clock`
//! event that fires every [`PERIOD_NS`] of the thread's CPU time, with
//! `exclude_kernel`, so that only the firings that land in user mode leave a
//! sample record. User time ≈ user samples × period. It needs no hardware
//! counter (this machine's VM exposes none).

use std::io;
use std::sync::atomic::{fence, Ordering};

/// The sampling period: 100 µs of the thread's CPU time.
pub const PERIOD_NS: u64 = 100_000;

const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
const PERF_SAMPLE_IP: u64 = 1;
const EXCLUDE_KERNEL: u64 = 1 << 5;
const EXCLUDE_HV: u64 = 1 << 6;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_SAMPLE: u32 = 9;
/// Data pages of the ring buffer (a power of two).
const DATA_PAGES: usize = 128;

/// Counts the calling thread's user-mode samples.
pub struct UserSampler {
    fd: libc::c_int,
    map: *mut u8,
    map_len: usize,
    data: *const u8,
    data_len: u64,
    tail: u64,
    samples: u64,
    lost: u64,
}

impl UserSampler {
    /// Starts sampling the calling thread.
    pub fn open() -> io::Result<UserSampler> {
        // struct perf_event_attr, PERF_ATTR_SIZE_VER1 (72 bytes), as u64 words.
        let mut attr = [0u64; 9];
        attr[0] = PERF_TYPE_SOFTWARE as u64 | (72u64 << 32); // type, size
        attr[1] = PERF_COUNT_SW_TASK_CLOCK; // config
        attr[2] = PERIOD_NS; // sample_period
        attr[3] = PERF_SAMPLE_IP; // sample_type
        attr[5] = EXCLUDE_KERNEL | EXCLUDE_HV; // flags: enabled at once
                                               // SAFETY: a valid perf_event_attr; pid 0 and cpu -1: this thread, any CPU.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = fd as libc::c_int;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let map_len = page * (DATA_PAGES + 1);
        // SAFETY: mapping the event's ring buffer, as perf_event_open(2) describes.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            // SAFETY: our own fd.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let map = map as *mut u8;
        let sampler = UserSampler {
            fd,
            map,
            map_len,
            // SAFETY: the data area follows the metadata page.
            data: unsafe { map.add(page) },
            data_len: (page * DATA_PAGES) as u64,
            tail: 0,
            samples: 0,
            lost: 0,
        };
        Ok(sampler)
    }

    /// A field of the ring buffer's metadata page, by byte offset.
    fn meta(&self, offset: usize) -> *mut u64 {
        // SAFETY: offsets inside struct perf_event_mmap_page (the first page).
        unsafe { self.map.add(offset) as *mut u64 }
    }

    /// Reads the new records; returns (user-mode samples, lost samples) so far.
    pub fn counts(&mut self) -> (u64, u64) {
        // data_head at offset 1024, data_tail at 1032.
        // SAFETY: the mapped metadata page; the kernel writes data_head.
        let head = unsafe { std::ptr::read_volatile(self.meta(1024)) };
        fence(Ordering::Acquire);
        while self.tail < head {
            let offset = (self.tail % self.data_len) as usize;
            // SAFETY: records are 8-byte aligned, so a header never wraps.
            let (kind, size, lost) = unsafe {
                let at = self.data.add(offset);
                let kind = std::ptr::read_unaligned(at as *const u32);
                let size = std::ptr::read_unaligned(at.add(6) as *const u16);
                let lost_at = (offset + 16) % self.data_len as usize;
                let lost = std::ptr::read_unaligned(self.data.add(lost_at) as *const u64);
                (kind, size, lost)
            };
            match kind {
                PERF_RECORD_SAMPLE => self.samples += 1,
                PERF_RECORD_LOST => self.lost += lost,
                _ => {}
            }
            if size == 0 {
                break;
            }
            self.tail += size as u64;
        }
        fence(Ordering::Release);
        // SAFETY: data_tail is ours to write: the space up to it is free again.
        unsafe { std::ptr::write_volatile(self.meta(1032), self.tail) };
        (self.samples, self.lost)
    }
}

impl Drop for UserSampler {
    fn drop(&mut self) {
        // SAFETY: our own mapping and fd.
        unsafe {
            libc::munmap(self.map as *mut libc::c_void, self.map_len);
            libc::close(self.fd);
        }
    }
}

/// The calling thread's precise CPU time (user + system), ns.
pub fn thread_cpu_ns() -> u64 {
    // SAFETY: plain data, filled by clock_gettime.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
