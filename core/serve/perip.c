/* perip.c -- connections per source address.  See perip.h. */
#include "serve/perip.h"

#include <netinet/in.h>
#include <string.h>

#include <netkit/error.h>

#include "base/alloc.h"

void
nk__perip_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[10] = key[11] = 0xff; /* ::ffff:a.b.c.d, as a dual-stack peer */
        memcpy(key + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            memcpy(key, &in6->sin6_addr, 16);
        else
            memcpy(key, &in6->sin6_addr, 8); /* the /64 */
    }
}

/* FNV-1a over the key. */
static size_t
perip_hash(const uint8_t key[16])
{
    uint64_t h = 1469598103934665603ull;

    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h ^ h >> 32);
}

int
nk__perip_init(struct nk__perip *p, uint32_t limit, size_t max_conns)
{
    size_t cap = 16;

    while (cap < 2 * max_conns)
        cap *= 2;
    p->slots = nk__calloc(cap, sizeof(*p->slots));
    if (p->slots == NULL)
        return NK_ENOMEM;
    p->mask = cap - 1;
    p->limit = limit;
    pthread_mutex_init(&p->mu, NULL);
    return 0;
}

void
nk__perip_fini(struct nk__perip *p)
{
    if (p->slots == NULL)
        return;
    nk__free(p->slots);
    p->slots = NULL;
    pthread_mutex_destroy(&p->mu);
}

/* The slot holding key, or the free slot where it would go (linear
 * probing; the table is never full). */
static size_t
perip_find(const struct nk__perip *p, const uint8_t key[16])
{
    size_t i = perip_hash(key) & p->mask;

    while (p->slots[i].n != 0 && memcmp(p->slots[i].key, key, 16) != 0)
        i = (i + 1) & p->mask;
    return i;
}

int
nk__perip_take(struct nk__perip *p, const struct sockaddr *sa)
{
    uint8_t key[16];
    size_t i;
    int rc = 0;

    nk__perip_key(sa, key);
    pthread_mutex_lock(&p->mu);
    i = perip_find(p, key);
    if (p->slots[i].n >= p->limit) {
        rc = -1;
    } else {
        memcpy(p->slots[i].key, key, 16);
        p->slots[i].n++;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void
nk__perip_give(struct nk__perip *p, const struct sockaddr *sa)
{
    uint8_t key[16];
    size_t i, j;

    nk__perip_key(sa, key);
    pthread_mutex_lock(&p->mu);
    i = perip_find(p, key);
    if (p->slots[i].n > 1) {
        p->slots[i].n--;
    } else if (p->slots[i].n == 1) {
        /* Free the slot, and shift back the entries after it that probed
         * past it, so that every lookup still finds its key (no
         * tombstones). */
        p->slots[i].n = 0;
        for (j = (i + 1) & p->mask; p->slots[j].n != 0; j = (j + 1) & p->mask) {
            size_t home = perip_hash(p->slots[j].key) & p->mask;
            /* j's entry may move to i unless its home lies in (i, j]. */
            if ((j > i && (home <= i || home > j)) ||
                (j < i && (home <= i && home > j))) {
                p->slots[i] = p->slots[j];
                p->slots[j].n = 0;
                i = j;
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
}
