/*
 * alloc.h -- the one allocator seam of the core (like Redis's zmalloc).
 *
 * Every core allocation goes through these, so tests can count allocations
 * and make the Nth one fail (nk__alloc_fail_after) to check that each failure
 * is a clean NK_ENOMEM with nothing leaked.
 */
#ifndef NK_CORE_ALLOC_H
#define NK_CORE_ALLOC_H

#include <stddef.h>

void *nk__malloc(size_t size);
void *nk__calloc(size_t n, size_t size);
void *nk__realloc(void *p, size_t size);
char *nk__strdup(const char *s);
char *nk__memdup(const void *p, size_t n); /* adds a NUL terminator */
void nk__free(void *p);

/* Memory given back is given back to the system (see alloc.c): call once,
 * before serving. */
void nk__alloc_setup(void);
/* Return the free memory of every heap to the system (glibc's
 * malloc_trim); after many buffers were freed, as it walks every heap. */
void nk__alloc_trim(void);

/* Tests: fail every allocation after `n` more succeed (-1: never fail). */
void nk__alloc_fail_after(long n);

#endif /* NK_CORE_ALLOC_H */
