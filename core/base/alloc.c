/* alloc.c -- the allocator seam.  See alloc.h. */
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

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
