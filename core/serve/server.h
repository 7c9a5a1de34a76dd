/*
 * server.h -- `netkit serve`: workers, listeners and their sockets.
 *
 * A worker is one thread with one event loop.  Each listener (a
 * [listen.NAME] section, or the command line's) exists once per worker, with
 * its own plugin instance, so a plugin's callbacks for one instance always
 * run on one thread.  With several workers every worker has its own
 * listening socket per address, bound with SO_REUSEPORT, and the kernel
 * spreads connections and datagrams across them.
 */
#ifndef NK_CORE_SERVER_H
#define NK_CORE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "base/addr.h"
#include "base/handles.h"
#include "base/buf.h"
#include "base/err.h"
#include "plugin/loader.h"
#include "base/loop.h"
#include "config/settings.h"
#include "config/sockopt.h"
#include "serve/counters.h"
#include "plugin/session.h"
#include "serve/mailbox.h"
#include "serve/perip.h"

struct nk__conn;
struct nk__server;
struct nk__dgram;
struct nk__access;
struct nk__tls;

/* One bound socket of a listener, in one worker. */
struct nk__sock {
    struct nk__io io; /* first member: the loop hands this back */
    struct nk__listener *ls;
    int family;
    struct nk__dgram *dgram; /* UDP batch state, NULL for TCP */
    int pktinfo;     /* UDP on a wildcard address: answer from the request's
                        destination address (IP_PKTINFO / IPV6_RECVPKTINFO) */
    size_t addr;     /* index of its address in the listener's (reload) */
    atomic_int kept; /* a reload's new workers took a copy of it */
};

/* One listener in one worker. */
struct nk__listener {
    struct nk_ctx ctx; /* what the plugin instance names itself by */
    struct nk__server *srv;
    size_t index; /* in the worker's listeners, the same in every worker */
    const struct nk__listen_conf *conf;
    const struct nk__plugin *plugin;
    void *inst;         /* the plugin instance of this listener+worker */
    int created;        /* create succeeded: destroy is owed */
    int destroying;     /* in destroy: services that take ctx refuse */
    size_t max_message; /* from nk_setup: the largest message buffered */
    size_t max_output;  /* output queued for one peer before it is closed */
    size_t out_high, out_low;  /* from nk_setup: sessions' watermarks */
    uint64_t connect_ms;       /* from nk_setup: outbound connect timeout */
    int serving;               /* 0: an NK_PLUGIN_ONE_INSTANCE listener that
                                  another worker serves (no instance here) */
    struct nk__ptimer *timers; /* the instance's own timers */
    const struct nk__sockopt_val *accept_opts; /* re-set on accepted sockets */
    size_t naccept_opts;
    struct nk__sock *socks;
    size_t nsocks;
    size_t nconns; /* this worker's connections */
    /* Every worker's connections of this listener, against max_conns: a
     * connection takes a slot before it is adopted (nk__listen_on_accept)
     * and gives it back when it closes (nk__conn_close). */
    atomic_llong *slots;
    struct nk__perip *perip; /* max_conns_per_ip, shared; NULL: no limit */
    _Atomic uint64_t refused_perip; /* summed by counters.c */
    uint64_t perip_logged;          /* when last logged (ms) */
    /* Every connection, least recently active first: the idle timer expires
     * from the head, activity moves a connection to the tail, both O(1). */
    struct nk__conn *lru_head, *lru_tail;
    uint64_t idle_ms;    /* 0: no idle timeout */
    uint64_t message_ms; /* 0: no deadline for a begun message */
    uint64_t write_ms;   /* 0: no deadline for queued output */
    /* Connections closed by each deadline (logged at exit); atomic, as
     * every counter: another thread sums them (counters.h). */
    _Atomic uint64_t closed_idle, closed_message, closed_write;
    _Atomic uint64_t closed_memory; /* closed over max_buffer_memory */
    struct nk__timer idle_timer;
    _Atomic uint64_t udp_dropped; /* malformed datagrams dropped */
    struct nk__counters ctr;      /* this worker's counts (counters.h) */
    /* allow/deny: the denials of every worker's copy of this listener */
    struct nk__access *access;
    struct nk__tls *tls; /* the TLS contexts (shared), or NULL: no TLS */
    uint64_t tls_hs_ms;  /* tls_handshake_timeout; 0: none */
};

struct nk__server {
    struct nk__loop loop;
    int id;
    struct nk__listener *listeners;
    size_t nlisteners;
    size_t nconns;
    int spare_fd; /* closed to accept-and-shed when out of descriptors */
    int draining;
    int retiring; /* reloaded: not accepting; ends when its last connection
                     closes */
    struct nk__io wake; /* eventfd: another thread asks this one to stop */
    struct nk__io sig;  /* unused: signals go to the main thread */
    struct nk__timer drain_timer;
    struct nk__timer accept_timer; /* resumes accepting after EMFILE */
    uint64_t fd_warned;            /* when EMFILE was last logged (ms) */
    /* Buffer memory freed since the heaps were last trimmed, and the
     * timer that trims them (conn.c's conn_account). */
    size_t released;
    struct nk__timer trim_timer;
    /* Shared by every connection of this worker, one at a time: reads land
     * in rbuf and replies gather in wbuf while a connection's batch runs
     * (`batch`); only what is left over -- a partial message, a reply the
     * socket would not take -- is copied into the connection's own buffers.
     * So an idle connection owns no buffer at all. */
    struct nk__buf rbuf, wbuf;
    struct nk__conn *batch;
    /* Bytes buffered by every worker's connections, against the budget
     * (0: none): see conn.c's conn_account. */
    atomic_llong *buffered;
    long long buffer_budget;
    unsigned turn_msgs; /* messages left in the batch's share of the turn */
    struct nk__handles sessions; /* nk_sid -> struct nk__conn */
    struct nk__handles timers;   /* nk_timer_id -> struct nk__ptimer */
    struct nk__mailbox mail;     /* work posted by other threads */
    struct nk__io mail_io;
    struct nk__serve *owner;
    struct nk__server *all; /* every worker of the run, this one included */
    int nall;
    pthread_t thread;
};

/* Run `netkit serve` with finished settings.  Returns 0 after a clean stop
 * (SIGINT/SIGTERM), or -1 with err (status 2 config, 1 run-time). */
int nk__serve(struct nk__settings *s, struct nk_err *err);

/* `netkit serve --check`: load every plugin, check its options, create
 * and destroy an instance per listener, resolve every address (binding
 * none), and print the effective settings on out.  0 or -1 with err. */
int nk__serve_check(struct nk__settings *s, FILE *out, struct nk_err *err);

/* counters.c's sums: add what listener li (of srv's configuration) counted
 * in configurations replaced by a reload, still serving or gone. */
void nk__server_sum_more(struct nk__server *srv, size_t li,
                         struct nk__ctr_sum *out);

/* Listener helpers used by conn.c and dgram.c. */
void nk__server_conn_gone(struct nk__server *srv);

/* Act on the mail other threads (or this one) posted to srv: on_post,
 * sends and closes by handle.  The worker's loop calls it when the
 * mailbox's eventfd is readable. */
void nk__server_take_mail(struct nk__server *srv);

/* Worker w of srv's run (NULL if there is none), and how many there are. */
struct nk__server *nk__server_worker(struct nk__server *srv, int w);
int nk__server_nworkers(const struct nk__server *srv);

#endif /* NK_CORE_SERVER_H */
