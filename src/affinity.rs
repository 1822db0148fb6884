//! On SQLite, the daemon keeps its threads on one CPU.
//!
//! Every statement on sqlx's SQLite driver is a hand-off between the task that sends it and
//! the connection's worker thread, and back: a message taken in costs a few of them
//! (`store::pending`). When the two threads sit on different CPUs each hand-off wakes the
//! other CPU, which on a virtual machine (the usual deployment) is a trip through the
//! hypervisor; on one CPU it is a plain switch between threads. Measured for issue 7 on two
//! cores (`benches/imap.rs`, 10,000 messages): the IMAP drain took in about 2,700 messages a
//! second with the threads free to move and about 3,400 with them on one CPU. SQLite has one
//! writer whatever the number of threads, so the second CPU bought nothing but those trips.
//!
//! Parsing is the one piece of CPU work that does not talk to the database: the threads that
//! parse run on every CPU again ([`spread_this_thread`]), beside the CPU the database
//! conversation keeps.
//!
//! PostgreSQL is left alone (its statements cross a socket to other processes anyway, and
//! several connections work at once), and so is a machine with a single CPU.

use std::sync::OnceLock;

use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
use nix::unistd::Pid;

/// The CPUs the process could run on before [`gather`].
static SPREAD: OnceLock<CpuSet> = OnceLock::new();

/// The calling thread, for `sched_*affinity`.
const THIS_THREAD: Pid = Pid::from_raw(0);

/// Keeps every thread of the process on one CPU, and so every thread they start later (a
/// thread starts with its parent's CPUs): the CPU the calling thread runs on, where the
/// scheduler just put it (so that several daemons on one machine, or a test suite's, spread
/// out), else the last it may use. Returns that CPU, or `None` when there is only one or the
/// system refuses (then nothing changes: this is a matter of speed, never of correctness).
pub fn gather() -> Option<usize> {
    let all = sched_getaffinity(THIS_THREAD).ok()?;
    let cpus: Vec<usize> = (0..CpuSet::count())
        .filter(|&cpu| all.is_set(cpu).unwrap_or(false))
        .collect();
    let [_, .., last] = cpus.as_slice() else {
        return None;
    };
    let here = sched_getcpu().ok().filter(|cpu| cpus.contains(cpu));
    let chosen = here.unwrap_or(*last);
    let mut one = CpuSet::new();
    one.set(chosen).ok()?;
    sched_setaffinity(THIS_THREAD, &one).ok()?;
    let _ = SPREAD.set(all);
    // The runtime's threads were started before: each is moved by its id. One that ends
    // meanwhile is not an error.
    for tid in threads() {
        let _ = sched_setaffinity(Pid::from_raw(tid), &one);
    }
    Some(chosen)
}

/// Lets the calling thread run on every CPU the process could before [`gather`] (nothing
/// when it was not called): for CPU work that does not wait on the database.
pub fn spread_this_thread() {
    if let Some(all) = SPREAD.get() {
        let _ = sched_setaffinity(THIS_THREAD, all);
    }
}

/// How many CPUs the process may use for CPU work: those it had before [`gather`].
pub fn parallelism() -> usize {
    match SPREAD.get() {
        Some(all) => (0..CpuSet::count())
            .filter(|&cpu| all.is_set(cpu).unwrap_or(false))
            .count()
            .max(1),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// The ids of the process's threads (Linux: `/proc/self/task`).
fn threads() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}
