/* handles.c -- generational handles.  See handles.h. */
#include "base/handles.h"

#include "base/alloc.h"

#define HANDLE_LOW(id)  ((uint32_t)(id))
#define HANDLE_SLOT(id) ((uint32_t)(((id) >> 32) & 0xffffffu))

uint64_t
nk__handle_add(struct nk__handles *h, void *ptr)
{
    uint32_t i;

    if (h->free_head != 0) {
        i = h->free_head - 1;
        h->free_head = h->slots[i].next;
    } else {
        if (h->n == h->cap) {
            uint32_t cap = h->cap ? 2 * h->cap : 64;
            struct nk__handle_slot *grown;
            if (h->cap >= NK_HANDLE_SLOTS_MAX)
                return 0;
            if (cap > NK_HANDLE_SLOTS_MAX)
                cap = NK_HANDLE_SLOTS_MAX;
            grown = nk__realloc(h->slots, cap * sizeof(*grown));
            if (grown == NULL)
                return 0;
            h->slots = grown;
            h->cap = cap;
        }
        i = h->n++;
        h->slots[i].gen = 1;
    }
    h->slots[i].ptr = ptr;
    h->slots[i].next = 0;
    return (uint64_t)(i + 1) << 32 | h->slots[i].gen;
}

void *
nk__handle_get(const struct nk__handles *h, uint64_t id)
{
    uint32_t slot = HANDLE_SLOT(id);

    if (slot == 0 || slot > h->n)
        return NULL;
    if (h->slots[slot - 1].gen != HANDLE_LOW(id))
        return NULL;
    return h->slots[slot - 1].ptr;
}

void
nk__handle_del(struct nk__handles *h, uint64_t id)
{
    uint32_t slot = HANDLE_SLOT(id);
    struct nk__handle_slot *s;

    if (nk__handle_get(h, id) == NULL)
        return;
    s = &h->slots[slot - 1];
    s->ptr = NULL;
    /* Generation 0 is skipped, so no handle is ever 0 in its low half. */
    if (++s->gen == 0)
        s->gen = 1;
    s->next = h->free_head;
    h->free_head = slot;
}

void
nk__handles_free(struct nk__handles *h)
{
    nk__free(h->slots);
    *h = (struct nk__handles){0};
}
