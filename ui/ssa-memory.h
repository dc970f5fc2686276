/* ssa-memory.h — malloc tuning for the annotator's large buffers.
 *
 * A 4000×3000 image means 12 MB masks (made on the decoder thread, freed on the main loop),
 * 36–48 MB image copies and the cairo renderer's per-frame image surface. glibc's dynamic mmap
 * threshold grows to 32 MB after the first such buffer is freed, after which they come from the
 * per-thread heaps and fragment them: after 60 prompts on a 4000×3000 image the peak RSS was
 * 473 MB with the default and 408 MB with a fixed 1 MB threshold (bench/annotator-latency).
 * A fixed threshold keeps every buffer ≥ 1 MB in its own mapping, returned to the system on
 * free. Call first thing in main(). */
#ifndef SSA_MEMORY_H
#define SSA_MEMORY_H
#ifdef __GLIBC__
#include <malloc.h>
#endif

static inline void
ssa_memory_tune(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}
#endif
