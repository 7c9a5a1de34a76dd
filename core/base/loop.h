/*
 * loop.h -- the event loop: one per worker thread, after Redis's ae.
 *
 * Three kinds of work:
 *   - I/O watchers (struct nk__io): a descriptor and a callback, stored in
 *     epoll_event.data.ptr, so the loop needs no fd-indexed table;
 *   - timers (struct nk__timer): a small min-heap by deadline (idle timeouts
 *     use one timer per listener over an LRU list, so the heap stays tiny);
 *   - deferred work (struct nk__defer): run after the current batch of events,
 *     which is how closing is made safe: a callback may close the connection
 *     it runs on, and the memory is released only after dispatch returns;
 *     or run in the next turn (nk__loop_soon), for work that yields.
 *
 * Dispatch order within one event: readable, then writable, re-checking the
 * watcher's mask between the two (the read callback may have stopped it).
 */
#ifndef NK_CORE_LOOP_H
#define NK_CORE_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define NK_IO_READ  0x1u
#define NK_IO_WRITE 0x2u

struct nk__loop;
struct nk__io;
struct nk__timer;

typedef void (*nk__io_fn)(struct nk__loop *loop, struct nk__io *io,
                          unsigned events);
typedef void (*nk__timer_fn)(struct nk__loop *loop, struct nk__timer *t);

struct nk__io {
    int fd;
    unsigned mask;  /* NK_IO_* being watched; 0: not in the poll set */
    int registered; /* known to epoll */
    nk__io_fn cb;
};

struct nk__timer {
    uint64_t when; /* monotonic ms */
    size_t slot;   /* position in the heap; (size_t)-1 when not armed */
    nk__timer_fn cb;
};

struct nk__defer {
    struct nk__defer *next;
    void (*cb)(struct nk__defer *d);
    int queued;
};

struct nk__loop {
    int epfd;
    int stop;
    uint64_t now; /* monotonic ms, refreshed once per wakeup */
    struct nk__timer **heap;
    size_t nheap, capheap;
    struct nk__defer *deferred;          /* LIFO; order does not matter */
    struct nk__defer *soon, **soon_tail; /* next turn, FIFO */
};

/* Returns 0 or a negative NK_E* code. */
int nk__loop_init(struct nk__loop *loop);
/* Frees the loop's own resources; watchers and timers are the caller's. */
void nk__loop_fini(struct nk__loop *loop);

/* Run until nk__loop_stop.  Returns 0. */
int nk__loop_run(struct nk__loop *loop);
/* One wakeup: wait at most timeout_ms (-1: until an event or timer). */
void nk__loop_run_once(struct nk__loop *loop, int timeout_ms);
void nk__loop_stop(struct nk__loop *loop);

/* Refresh and return loop->now. */
uint64_t nk__loop_update_time(struct nk__loop *loop);

void nk__io_init(struct nk__io *io, int fd, nk__io_fn cb);
/* Watch exactly `mask` (0 stops watching but keeps the registration). */
int nk__io_set(struct nk__loop *loop, struct nk__io *io, unsigned mask);
/* Forget the descriptor (call before closing it). */
void nk__io_stop(struct nk__loop *loop, struct nk__io *io);

void nk__timer_init(struct nk__timer *t, nk__timer_fn cb);
/* Arm (or re-arm) to fire at absolute monotonic time `when` (ms). */
int nk__timer_start(struct nk__loop *loop, struct nk__timer *t, uint64_t when);
void nk__timer_stop(struct nk__loop *loop, struct nk__timer *t);
int nk__timer_active(const struct nk__timer *t);

/* Run d->cb after the current batch of events (once, however often it is
 * queued before then). */
void nk__loop_defer(struct nk__loop *loop, struct nk__defer *d);

/* Run d->cb once in the next loop turn, after that turn's events (which
 * then wait for nothing): work that yields to the other connections and
 * resumes, so one busy peer cannot starve the rest.  d must not be
 * deferred with nk__loop_defer at the same time. */
void nk__loop_soon(struct nk__loop *loop, struct nk__defer *d);

/* Run the deferred work now. */
void nk__loop_run_deferred(struct nk__loop *loop);

/* Tearing a loop down: run the deferred and the next turn's work until
 * none is left. */
void nk__loop_finish(struct nk__loop *loop);

#endif /* NK_CORE_LOOP_H */
