/* alloc.c -- the allocator seam.  See alloc.h. */
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* An allocation this large or larger is a mapping of its own, unmapped
 * when freed (glibc's initial threshold). */
#define ALLOC_MAP_MIN (128 * 1024)

/* Allocations left before injected failure; -1 means never fail.  Tests are
 * single-threaded when they set it, so a plain variable is enough. */
static long alloc_budget = -1;

static int
alloc_should_fail(void)
{
    if (alloc_budget < 0)
        return 0;
    if (alloc_budget == 0)
        return 1;
    alloc_budget--;
    return 0;
}

void
nk__alloc_fail_after(long n)
{
    alloc_budget = n;
}

void *
nk__malloc(size_t size)
{
    return alloc_should_fail() ? NULL : malloc(size);
}

void *
nk__calloc(size_t n, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(n, size);
}

void *
nk__realloc(void *p, size_t size)
{
    return alloc_should_fail() ? NULL : realloc(p, size);
}

char *
nk__memdup(const void *p, size_t n)
{
    char *s = nk__malloc(n + 1);

    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

char *
nk__strdup(const char *s)
{
    return nk__memdup(s, strlen(s));
}

void
nk__free(void *p)
{
    free(p);
}

/*
 * glibc maps a block of 128 KiB or more on its own and unmaps it on free,
 * but each such free raises the threshold to the block's size (up to
 * 32 MiB): after the first 1 MiB buffer is freed, the next thousand come
 * from the heaps, where freed memory stays (2,000 peers that held 1 MiB
 * each left 300 MB behind).  A threshold set once is never raised.
 * Smaller blocks freed in the middle of a heap are what nk__alloc_trim is
 * for.
 */
void
nk__alloc_setup(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, ALLOC_MAP_MIN);
#endif
}

void
nk__alloc_trim(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
