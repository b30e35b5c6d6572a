// jemalloc's settings for the hookd binary, read by jemalloc at its first allocation.
//
// background_thread: a thread of jemalloc's returns freed pages to the system as they age
// (dirty_decay_ms, 10 s by default). Without it jemalloc purges only while allocating, so a daemon
// that goes quiet after a burst (a million retries made and now waiting) keeps the burst's memory:
// measured 290 MiB RSS waiting without it, 178-183 MiB with it (bench/RESULTS.md). One such thread is
// enough for a daemon whose allocations come from a handful of threads.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "background_thread:true,max_background_threads:1";
}
