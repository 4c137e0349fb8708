//! What a program running the pipeline sets for its own process before it starts: the binary
//! (`main.rs`) and the benchmarks, so that they measure what users run.

/// Transparent huge pages make a build slower, not faster: a fresh 2 MiB page is zeroed whole
/// when the first byte of it is touched, and the allocator returns parts of its pages to the
/// system and touches them again. On the e2e corpus with THP on (mimalloc advises it on its
/// own mappings, so the host's `madvise` setting is enough) the kernel zeroed pages for 24% of
/// the samples and a build took 1.40x as long as with it off (benches/README.md, "Sixth
/// pass"). The flag is per process and inherited by children (`cargo metadata`, build scripts).
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_THP_DISABLE` takes integer arguments only and changes nothing but the
    // process's own THP flag; on a kernel without it the call fails and nothing changes.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_process_is_left_with_transparent_huge_pages_off() {
        super::no_transparent_huge_pages();
        // SAFETY: as above, integer arguments only.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
    }
}
