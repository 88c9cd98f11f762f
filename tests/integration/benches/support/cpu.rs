//! The calling thread's CPU time, for benchmarks that report CPU per operation.
#![allow(unsafe_code)] // getrusage

use std::time::Duration;

/// User + system CPU time of the calling thread (`getrusage(RUSAGE_THREAD)`).
pub(crate) fn thread_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage struct into the pointer we own.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `f` `n` times and returns CPU µs per call.
#[allow(dead_code)] // not every benchmark uses it
pub(crate) fn cpu_us_per_call(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let start = thread_cpu();
    for i in 0..n {
        f(i);
    }
    (thread_cpu() - start).as_secs_f64() * 1e6 / n as f64
}
