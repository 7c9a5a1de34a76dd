/*
 * perip.h -- connections per source address (max_conns_per_ip), so that
 * one address cannot take every slot of a listener.  An IPv4 address (or
 * an IPv4 peer of a dual-stack socket) counts alone; an IPv6 address counts
 * with its /64, the block one subscriber usually holds.
 *
 * One table per listener, shared by its workers under a mutex: taken once
 * per accept and given back once per close, off the message path.  Its
 * capacity is twice max_conns, so it never fills: every counted address
 * holds at least one of the listener's slots.
 */
#ifndef NK_SERVE_PERIP_H
#define NK_SERVE_PERIP_H

#include <sys/socket.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct nk__perip_slot {
    uint8_t key[16]; /* the address, v4-mapped, or an IPv6 /64 */
    uint32_t n;      /* connections; 0: the slot is free */
};

struct nk__perip {
    pthread_mutex_t mu;
    uint32_t limit;
    size_t mask; /* capacity - 1, a power of two */
    struct nk__perip_slot *slots;
};

/* Returns 0 or NK_ENOMEM. */
int nk__perip_init(struct nk__perip *p, uint32_t limit, size_t max_conns);
void nk__perip_fini(struct nk__perip *p);

/* Count a connection from sa: 0, or -1 when its address is at the limit
 * (nothing counted then). */
int nk__perip_take(struct nk__perip *p, const struct sockaddr *sa);

/* A connection counted by take has closed. */
void nk__perip_give(struct nk__perip *p, const struct sockaddr *sa);

/* The key an address counts under (for tests). */
void nk__perip_key(const struct sockaddr *sa, uint8_t key[16]);

#endif /* NK_SERVE_PERIP_H */
