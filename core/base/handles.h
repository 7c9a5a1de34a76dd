/*
 * handles.h -- handles that go stale safely: a table of pointers addressed
 * by (slot, generation).  Freeing a slot bumps its generation, so an old
 * handle to it finds nothing instead of whatever took the slot next.  The
 * session and timer handles of the plugin API are built on it.
 *
 * A handle is (slot + 1) << 32 | generation: never 0, and the top byte is
 * free for the caller (sessions put their worker there).  One table belongs
 * to one thread.
 */
#ifndef NK_BASE_HANDLES_H
#define NK_BASE_HANDLES_H

#include <stdint.h>

#define NK_HANDLE_SLOTS_MAX (1u << 24) /* slot + 1 fits below the top byte */

struct nk__handle_slot {
    void *ptr;     /* NULL: free */
    uint32_t gen;  /* bumped when freed */
    uint32_t next; /* free list: the next free slot + 1, 0 ends it */
};

struct nk__handles {
    struct nk__handle_slot *slots;
    uint32_t n, cap;
    uint32_t free_head; /* first free slot + 1; 0: none */
};

/* Store ptr (not NULL); returns its handle, or 0 when out of memory. */
uint64_t nk__handle_add(struct nk__handles *h, void *ptr);

/* The pointer a handle names, or NULL when it is stale or was never valid.
 * The top byte of id is ignored. */
void *nk__handle_get(const struct nk__handles *h, uint64_t id);

/* Free the handle's slot (a stale handle is ignored). */
void nk__handle_del(struct nk__handles *h, uint64_t id);

void nk__handles_free(struct nk__handles *h);

#endif /* NK_BASE_HANDLES_H */
