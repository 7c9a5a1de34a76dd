/* resolve.c -- host names looked up off the loop.  See resolve.h. */
#include "serve/resolve.h"

#include <netdb.h>
#include <pthread.h>
#include <string.h>

#include <netkit/error.h>

#include "base/alloc.h"
#include "serve/server.h"

struct rs_req {
    struct rs_req *next;
    struct nk__server *srv; /* NULL: forgotten, drop the answer */
    size_t listener;
    uint64_t sid;
    int taken; /* a thread is looking it up */
    char *host, *port;
};

/* One pool for the process: requests in arrival order, queued and in
 * progress alike, so forgetting a worker finds both. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct rs_req *head, **tail;
    pthread_t threads[NK_RESOLVE_THREADS];
    int nthreads;
    int stopping;
} rs = {PTHREAD_MUTEX_INITIALIZER,
        PTHREAD_COND_INITIALIZER,
        NULL,
        &rs.head,
        {0},
        0,
        0};

static void
rs_fill(struct nk__resolved *out, const struct addrinfo *ai)
{
    out->status = 0;
    out->n = 0;
    for (; ai != NULL && out->n < NK_RESOLVE_MAX; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(out->addr[0].a))
            continue;
        memcpy(&out->addr[out->n].a, ai->ai_addr, ai->ai_addrlen);
        out->addr[out->n].len = ai->ai_addrlen;
        out->n++;
    }
    if (out->n == 0)
        out->status = NK_ENOHOST;
}

int
nk__resolve_numeric(const char *host, const char *port,
                    struct nk__resolved *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
                    *ai;
    int rc;

    if (host == NULL || port == NULL || *host == '\0' || *port == '\0')
        return NK_EINVAL;
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc == EAI_NONAME) {
        /* Not an address: a name, if the port is a number. */
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        rc = getaddrinfo("127.0.0.1", port, &hints, &ai);
        if (rc != 0)
            return NK_EINVAL;
        freeaddrinfo(ai);
        return NK_EAGAIN;
    }
    if (rc != 0)
        return NK_EINVAL;
    rs_fill(out, ai);
    freeaddrinfo(ai);
    return out->status == 0 ? 0 : NK_EINVAL;
}

static void
rs_lookup(struct rs_req *r, struct nk__resolved *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV},
                    *ai;
    int rc = getaddrinfo(r->host, r->port, &hints, &ai);

    if (rc == 0) {
        rs_fill(out, ai);
        freeaddrinfo(ai);
    } else {
        out->status = rc == EAI_MEMORY   ? NK_ENOMEM
                      : rc == EAI_AGAIN  ? NK_EAGAIN
                      : rc == EAI_SYSTEM ? NK_EINVAL
                                         : NK_ENOHOST;
        out->n = 0;
    }
}

static void
rs_free(struct rs_req *r)
{
    nk__free(r->host);
    nk__free(r->port);
    nk__free(r);
}

/* Unlink r (the caller holds the lock). */
static void
rs_unlink(struct rs_req *r)
{
    struct rs_req **pp = &rs.head;

    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    if (rs.tail == &r->next)
        rs.tail = pp;
}

static void *
rs_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&rs.mu);
    for (;;) {
        struct rs_req *r = rs.head;
        struct nk__resolved res;

        while (r != NULL && r->taken)
            r = r->next;
        if (r == NULL) {
            if (rs.stopping)
                break;
            pthread_cond_wait(&rs.cv, &rs.mu);
            continue;
        }
        r->taken = 1;
        pthread_mutex_unlock(&rs.mu);
        rs_lookup(r, &res);
        pthread_mutex_lock(&rs.mu);
        rs_unlink(r);
        if (r->srv != NULL) {
            /* Under the lock, so the worker cannot be forgotten and its
             * mailbox freed meanwhile (the mailbox has a lock of its own,
             * never held while taking this one). */
            struct nk__mail *m = nk__mail_new(NK_MAIL_RESOLVED, r->listener,
                                              r->sid, sizeof(res));
            if (m != NULL) {
                memcpy(m->data, &res, sizeof(res));
                nk__mailbox_put(&r->srv->mail, m);
            }
            /* Lost mail (no memory, a full mailbox) leaves the connection
             * to its connect timeout. */
        }
        rs_free(r);
    }
    pthread_mutex_unlock(&rs.mu);
    return NULL;
}

int
nk__resolve_start(struct nk__server *srv, size_t listener, uint64_t sid,
                  const char *host, const char *port)
{
    struct rs_req *r = nk__calloc(1, sizeof(*r));
    int rc = 0;

    if (r == NULL)
        return NK_ENOMEM;
    r->srv = srv;
    r->listener = listener;
    r->sid = sid;
    r->host = nk__strdup(host);
    r->port = nk__strdup(port);
    if (r->host == NULL || r->port == NULL) {
        rs_free(r);
        return NK_ENOMEM;
    }
    pthread_mutex_lock(&rs.mu);
    rs.stopping = 0;
    while (rs.nthreads < NK_RESOLVE_THREADS) {
        int e = pthread_create(&rs.threads[rs.nthreads], NULL, rs_thread, NULL);
        if (e != 0) {
            rc = -e;
            break;
        }
        rs.nthreads++;
    }
    if (rs.nthreads == 0) {
        pthread_mutex_unlock(&rs.mu);
        rs_free(r);
        return rc;
    }
    *rs.tail = r;
    rs.tail = &r->next;
    pthread_cond_signal(&rs.cv);
    pthread_mutex_unlock(&rs.mu);
    return 0;
}

void
nk__resolve_forget(struct nk__server *srv)
{
    pthread_mutex_lock(&rs.mu);
    for (struct rs_req *r = rs.head, *next; r != NULL; r = next) {
        next = r->next;
        if (r->srv != srv)
            continue;
        r->srv = NULL;
        if (!r->taken) {
            rs_unlink(r);
            rs_free(r);
        }
    }
    pthread_mutex_unlock(&rs.mu);
}

void
nk__resolve_stop(void)
{
    int n;

    pthread_mutex_lock(&rs.mu);
    rs.stopping = 1;
    pthread_cond_broadcast(&rs.cv);
    n = rs.nthreads;
    pthread_mutex_unlock(&rs.mu);
    for (int i = 0; i < n; i++)
        pthread_join(rs.threads[i], NULL);
    pthread_mutex_lock(&rs.mu);
    rs.nthreads = 0;
    pthread_mutex_unlock(&rs.mu);
}
