//! Waiting for an open-loop operation's intended start: tokio's timer, or a Linux `timerfd` per
//! worker that wakes the runtime's reactor within microseconds of the intended start.
//!
//! tokio's timer wheel has millisecond slots and the runtime parks in `epoll_wait` with a
//! millisecond timeout, so `sleep_until` returns up to a millisecond or two after its deadline
//! (docs/performance.md measured 42–80 % of open-loop starts over 1 ms late on an idle server).
//! A `timerfd` armed for the remaining time becomes readable at the deadline with the kernel's
//! high-resolution timers, and its readiness wakes the reactor's `epoll_wait` at once: no spin,
//! one `timerfd_settime` and one `read` per operation.
//!
//! Tests on paused time use [`Timer::Runtime`], whose clock tokio can advance; a `timerfd` runs
//! on the real clock.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// How open-loop workers wait for an intended start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Timer {
    /// A `timerfd` per worker (Linux): wakes within microseconds. Falls back to the runtime's
    /// timer where a `timerfd` cannot be made.
    #[default]
    Precise,
    /// tokio's timer: millisecond resolution; follows tokio's paused clock in tests.
    Runtime,
}

impl Timer {
    /// The name results and `--timer` use.
    pub fn name(self) -> &'static str {
        match self {
            Timer::Precise => "precise",
            Timer::Runtime => "runtime",
        }
    }
}

/// One worker's way of waiting: its own `timerfd`, re-armed for each start, or none (the
/// runtime's timer).
pub(super) struct Wait {
    fd: Option<AsyncFd<OwnedFd>>,
}

impl Wait {
    /// A worker's waiter for `timer`. [`Timer::Precise`] falls back to the runtime's timer when
    /// the `timerfd` cannot be created or registered (not Linux, out of descriptors); the run
    /// goes on with millisecond starts, which `late_starts` then shows.
    pub(super) fn new(timer: Timer) -> Wait {
        let fd = match timer {
            Timer::Precise => timerfd().ok().and_then(|fd| {
                // SAFETY: the `OwnedFd` is the `AsyncFd`'s own: open, and the same descriptor,
                // until the `AsyncFd` drops it.
                unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()
            }),
            Timer::Runtime => None,
        };
        Wait { fd }
    }

    /// Whether this waiter uses a `timerfd`.
    #[cfg(test)]
    pub(super) fn is_precise(&self) -> bool {
        self.fd.is_some()
    }

    /// Returns at `t` (at once when `t` has passed).
    pub(super) async fn until(&mut self, t: Instant) {
        let Some(fd) = &self.fd else {
            return tokio::time::sleep_until(t).await;
        };
        let now = Instant::now();
        if t <= now + SPIN {
            return spin_until(t);
        }
        if arm(fd.get_ref(), t - now - SPIN).is_err() {
            return tokio::time::sleep_until(t).await;
        }
        loop {
            let Ok(mut ready) = fd.readable().await else {
                return tokio::time::sleep_until(t).await;
            };
            match ready.try_io(|fd| expirations(fd.get_ref())) {
                Ok(Ok(_)) => return spin_until(t),
                // Not expired yet (a spurious readiness): wait again.
                Err(_would_block) => {}
                Ok(Err(_)) => return tokio::time::sleep_until(t).await,
            }
        }
    }
}

/// How early the `timerfd` fires before the intended start; the rest is spun. A thread woken
/// from idle takes tens of microseconds to run again; spinning the last stretch keeps that
/// out of the start, for at most this much CPU per operation.
const SPIN: Duration = Duration::from_micros(SPIN_US);
const SPIN_US: u64 = 50;

/// Spins (the thread stays on its core) until `t`: at most [`SPIN`] after a timer wake.
fn spin_until(t: Instant) {
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

/// A non-blocking, close-on-exec `timerfd` on the monotonic clock (the clock `Instant` reads).
fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a descriptor we now own.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `fd` to expire once, `after` from now (relative: `Instant`'s epoch is not exposed, and
/// the clock read just before costs nanoseconds). A zero `after` would disarm it, so it is at
/// least a nanosecond.
fn arm(fd: &OwnedFd, after: Duration) -> io::Result<()> {
    let after = after.max(Duration::from_nanos(1));
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: after.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: `fd` is a valid timerfd; `spec` outlives the call; the old value is not asked for.
    let r = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the expiration count; `WouldBlock` before the timer expired.
fn expirations(fd: &OwnedFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    // SAFETY: reads at most 8 bytes into an 8-byte buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from_ne_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_precise_wait_returns_at_its_deadline_not_before() {
        let mut w = Wait::new(Timer::Precise);
        assert!(w.is_precise(), "a timerfd on Linux");
        for ms in [0u64, 1, 3] {
            let t = Instant::now() + Duration::from_millis(ms);
            w.until(t).await;
            assert!(
                Instant::now() >= t,
                "returned before its deadline ({ms} ms)"
            );
        }
        // A deadline already passed returns at once, leaving the timer disarmed.
        w.until(Instant::now() - Duration::from_millis(5)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_runtime_timer_follows_paused_time() {
        let mut w = Wait::new(Timer::Runtime);
        assert!(!w.is_precise());
        let start = Instant::now();
        w.until(start + Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    }
}
