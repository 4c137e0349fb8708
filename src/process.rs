//! What a program running the pipeline sets for its own process before it starts: the binary
//! (`main.rs`), and the benchmarks and probes that run the pipeline in their own process, so that
//! they measure what users run.

/// Transparent huge pages make a build slower, not faster: a fresh 2 MiB page is zeroed whole
/// when the first byte of it is touched, and the allocator returns parts of its pages to the
/// system and touches them again. On the e2e corpus with THP on (mimalloc advises it on its
/// own mappings, so the host's `madvise` setting is enough) the kernel zeroed pages for 24% of
/// the samples and a build took 1.40x as long as with it off (benches/README.md, "Sixth
/// pass"). The flag is per process and inherited by children (`cargo metadata`, build scripts).
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_THP_DISABLE` takes integer arguments only and changes nothing but the
    // process's own THP flag; on a kernel without it the call fails and nothing changes. The
    // variadic arguments are `unsigned long`, as the kernel reads them (it refuses the call
    // unless the last three are 0).
    unsafe {
        let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, on, unused, unused, unused);
    }
}

/// Puts the calling thread at idle priority: the operating system runs it only on a core that no
/// other thread wants (Linux's `SCHED_IDLE`). Whether it could; never elsewhere.
pub fn idle_priority_for_this_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` for the call's duration; pid 0 is the calling
        // thread, and lowering its own priority needs no privilege.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_process_is_left_with_transparent_huge_pages_off() {
        super::no_transparent_huge_pages();
        let unused: libc::c_ulong = 0;
        // SAFETY: as above, integer arguments only.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, unused, unused, unused, unused) }, 1);
    }

    #[test]
    fn a_thread_put_at_idle_priority_is_at_it_and_the_others_are_not() {
        // SAFETY: `sched_getscheduler` takes a pid only (0: the calling thread).
        let policy = || unsafe { libc::sched_getscheduler(0) };
        let idle = std::thread::spawn(move || (super::idle_priority_for_this_thread(), policy())).join().unwrap();
        assert_eq!(idle, (true, libc::SCHED_IDLE));
        assert_eq!(policy(), libc::SCHED_OTHER, "the caller's own thread is left as it was");
    }
}
