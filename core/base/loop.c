/*
 * loop.c -- the event loop over epoll.  See loop.h.
 *
 * epoll is the only backend netkit needs (it is Linux-only); the few
 * functions that say epoll_* are kept together at the top so that another
 * backend would replace only them.
 */
#include "base/loop.h"

#include <sys/epoll.h>
#include <assert.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <netkit/error.h>

#include "base/alloc.h"

#define LOOP_MAX_EVENTS 256
#define SLOT_NONE       ((size_t)-1)

/* ---- the epoll backend ---------------------------------------------- */

static uint32_t
loop_epoll_mask(unsigned mask)
{
    return (mask & NK_IO_READ ? EPOLLIN : 0) |
           (mask & NK_IO_WRITE ? EPOLLOUT : 0);
}

int
nk__io_set(struct nk__loop *loop, struct nk__io *io, unsigned mask)
{
    struct epoll_event ev = {.events = loop_epoll_mask(mask), .data.ptr = io};
    int op = io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (io->registered && mask == io->mask)
        return 0;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return -errno;
    io->registered = 1;
    io->mask = mask;
    return 0;
}

void
nk__io_stop(struct nk__loop *loop, struct nk__io *io)
{
    if (io->registered)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->registered = 0;
    io->mask = 0;
}

static void
loop_poll(struct nk__loop *loop, int timeout_ms)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];
    int n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);

    /* Anything but EINTR means the loop itself is broken: a bug (ae). */
    assert(n >= 0 || errno == EINTR);
    nk__loop_update_time(loop);
    for (int i = 0; i < n; i++) {
        struct nk__io *io = evs[i].data.ptr;
        uint32_t e = evs[i].events;
        /* Errors and hang-ups are reported to the reader, which sees them
         * as a failed or empty read; a writer-only watcher gets them too. */
        unsigned fired = 0;

        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
            fired |= NK_IO_READ;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            fired |= NK_IO_WRITE;
        if (io->mask == 0 && (e & (EPOLLERR | EPOLLHUP))) {
            /* epoll reports these even to a watcher that asked for
             * nothing, and would again on every wakeup: forget the
             * descriptor; its owner learns at its next read or write. */
            nk__io_stop(loop, io);
            continue;
        }
        fired &= io->mask;
        if (fired & NK_IO_READ)
            io->cb(loop, io, NK_IO_READ);
        /* The read callback may have changed the mask (or closed: closing is
         * deferred, so io is still valid memory here). */
        if ((fired & NK_IO_WRITE) && (io->mask & NK_IO_WRITE))
            io->cb(loop, io, NK_IO_WRITE);
    }
}

int
nk__loop_init(struct nk__loop *loop)
{
    *loop = (struct nk__loop){0};
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    nk__loop_update_time(loop);
    return 0;
}

void
nk__loop_fini(struct nk__loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
    nk__free(loop->heap);
    loop->heap = NULL;
    loop->nheap = loop->capheap = 0;
}

/* ---- time and timers ------------------------------------------------ */

uint64_t
nk__loop_update_time(struct nk__loop *loop)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    return loop->now;
}

void
nk__io_init(struct nk__io *io, int fd, nk__io_fn cb)
{
    *io = (struct nk__io){.fd = fd, .cb = cb};
}

void
nk__timer_init(struct nk__timer *t, nk__timer_fn cb)
{
    *t = (struct nk__timer){.slot = SLOT_NONE, .cb = cb};
}

int
nk__timer_active(const struct nk__timer *t)
{
    return t->slot != SLOT_NONE;
}

static void
heap_place(struct nk__loop *loop, size_t i, struct nk__timer *t)
{
    loop->heap[i] = t;
    t->slot = i;
}

static void
heap_up(struct nk__loop *loop, size_t i)
{
    struct nk__timer *t = loop->heap[i];

    while (i > 0 && loop->heap[(i - 1) / 2]->when > t->when) {
        heap_place(loop, i, loop->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_place(loop, i, t);
}

static void
heap_down(struct nk__loop *loop, size_t i)
{
    struct nk__timer *t = loop->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= loop->nheap)
            break;
        if (c + 1 < loop->nheap &&
            loop->heap[c + 1]->when < loop->heap[c]->when)
            c++;
        if (loop->heap[c]->when >= t->when)
            break;
        heap_place(loop, i, loop->heap[c]);
        i = c;
    }
    heap_place(loop, i, t);
}

void
nk__timer_stop(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__timer *last;
    size_t i = t->slot;

    if (i == SLOT_NONE)
        return;
    t->slot = SLOT_NONE;
    if (--loop->nheap == i)
        return;
    last = loop->heap[loop->nheap];
    heap_place(loop, i, last);
    heap_down(loop, i);
    heap_up(loop, last->slot);
}

int
nk__timer_start(struct nk__loop *loop, struct nk__timer *t, uint64_t when)
{
    nk__timer_stop(loop, t);
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? 2 * loop->capheap : 16;
        struct nk__timer **h = nk__realloc(loop->heap, cap * sizeof(*h));
        if (h == NULL)
            return NK_ENOMEM;
        loop->heap = h;
        loop->capheap = cap;
    }
    t->when = when;
    heap_place(loop, loop->nheap++, t);
    heap_up(loop, t->slot);
    return 0;
}

static void
loop_run_timers(struct nk__loop *loop)
{
    while (loop->nheap > 0 && loop->heap[0]->when <= loop->now) {
        struct nk__timer *t = loop->heap[0];
        nk__timer_stop(loop, t);
        t->cb(loop, t);
    }
}

static int
loop_timeout(const struct nk__loop *loop, int timeout_ms)
{
    uint64_t wait;

    if (loop->deferred != NULL || loop->soon != NULL)
        return 0;
    if (loop->nheap == 0)
        return timeout_ms;
    wait =
        loop->heap[0]->when > loop->now ? loop->heap[0]->when - loop->now : 0;
    if (timeout_ms >= 0 && wait > (uint64_t)timeout_ms)
        return timeout_ms;
    return wait > 60000 ? 60000 : (int)wait;
}

/* ---- deferred work and running -------------------------------------- */

static void loop_run_soon(struct nk__loop *loop, struct nk__defer *d);

void
nk__loop_defer(struct nk__loop *loop, struct nk__defer *d)
{
    if (d->queued)
        return;
    d->queued = 1;
    d->next = loop->deferred;
    loop->deferred = d;
}

void
nk__loop_run_deferred(struct nk__loop *loop)
{
    while (loop->deferred != NULL) {
        struct nk__defer *d = loop->deferred;
        loop->deferred = d->next;
        d->queued = 0;
        d->cb(d);
    }
}

void
nk__loop_soon(struct nk__loop *loop, struct nk__defer *d)
{
    if (d->queued)
        return;
    d->queued = 1;
    d->next = NULL;
    if (loop->soon == NULL)
        loop->soon_tail = &loop->soon;
    *loop->soon_tail = d;
    loop->soon_tail = &d->next;
}

/* Run what was put off to this turn, each once: what it puts off again
 * waits for the next turn. */
static void
loop_run_soon(struct nk__loop *loop, struct nk__defer *d)
{
    while (d != NULL) {
        struct nk__defer *next = d->next;
        d->queued = 0;
        d->cb(d);
        d = next;
    }
}

void
nk__loop_finish(struct nk__loop *loop)
{
    while (loop->deferred != NULL || loop->soon != NULL) {
        struct nk__defer *soon = loop->soon;
        loop->soon = NULL;
        nk__loop_run_deferred(loop);
        loop_run_soon(loop, soon);
    }
}

void
nk__loop_run_once(struct nk__loop *loop, int timeout_ms)
{
    struct nk__defer *soon = loop->soon;

    loop->soon = NULL;
    loop_poll(loop, soon != NULL ? 0 : loop_timeout(loop, timeout_ms));
    nk__loop_run_deferred(loop);
    loop_run_soon(loop, soon);
    nk__loop_run_deferred(loop);
    loop_run_timers(loop);
    nk__loop_run_deferred(loop);
}

int
nk__loop_run(struct nk__loop *loop)
{
    while (!loop->stop)
        nk__loop_run_once(loop, -1);
    return 0;
}

void
nk__loop_stop(struct nk__loop *loop)
{
    loop->stop = 1;
}
