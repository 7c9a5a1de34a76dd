/*
 * conn.h -- one accepted TCP connection.
 *
 * Data flows one way: socket -> read buffer -> plugin decode -> on_message
 * -> host send -> output buffer -> socket.  Replies produced while a read is
 * being processed are gathered and leave in one write at the end of it.
 *
 * The read and output buffers used while a connection is being served are
 * its worker's (struct nk__server rbuf/wbuf); a connection's own `in` holds
 * only a partial message between reads and its own `out` only the replies
 * the socket would not take yet.  Both are freed once empty, so an idle
 * connection costs just this struct.
 *
 * Back-pressure: when the output passes the session's high watermark
 * (NK_OUT_HIGH_DEFAULT unless the plugin set its own; the peer is not
 * reading), the connection stops reading and stops decoding until the
 * output drains below the low one -- unless the plugin has on_writable,
 * which then decides what to pause (flow.c: pause_read, watermarks,
 * half-close).
 *
 * Closing is deferred: nk__conn_close marks the connection, closes the
 * socket and stops its timers; on_close runs and the memory is released
 * after the current event dispatch.  So a plugin may close any session from
 * any callback, and no host service ever calls the plugin back (on_close,
 * on_drain and on_connect run from the loop, never from inside send).
 *
 * Outbound connections (host->connect) are connections too: the same
 * buffers, codec and limits, with one more state (connecting) and one more
 * event (on_connect); a name is looked up first (resolve.c).  They hold
 * max_conns slots like accepted ones.  A pending one that is closed for
 * any reason gets on_connect(status < 0) instead of on_close.
 */
#ifndef NK_CORE_CONN_H
#define NK_CORE_CONN_H

#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/loop.h"
#include "plugin/session.h"
#include "serve/resolve.h"
#include "serve/timers.h"

/* The first read of a connection asks for NK_CONN_READ_SIZE bytes; a read
 * that fills its room doubles the next one, up to NK_CONN_READ_MAX, so bulk
 * transfers take few syscalls while small exchanges keep small buffers. */
#define NK_CONN_READ_SIZE (16 * 1024)
#define NK_CONN_READ_MAX  (256 * 1024)
/* A queue grows past the high-water mark only through sends that are not
 * answers to its peer (a plugin writing to other sessions); past the
 * listener's max_output (this by default) the peer is a consumer that
 * cannot keep up, and is closed. */
#define NK_CONN_OUT_MAX (32 * 1024 * 1024)
/* A reply at least this large is written straight from the plugin's iovecs
 * (no copy) when nothing is queued before it. */
#define NK_CONN_DIRECT_MIN (16 * 1024)
/* Reads per wakeup, so one busy peer cannot starve the others (libuv: 32). */
#define NK_CONN_READS_PER_WAKEUP 32
/* A connection's share of one loop turn: at most this many messages
 * decoded and answered, and this many bytes read; the rest waits for the
 * next turn, after every other connection with work has had its share. */
#define NK_CONN_TURN_MESSAGES 1024
#define NK_CONN_TURN_BYTES    (256 * 1024)
/* A closing connection reads and discards what the peer still sends until
 * the peer has acknowledged every reply and sent nothing for
 * NK_CONN_LINGER_QUIET_MS (or closes), for at most NK_CONN_LINGER_MS
 * (nginx: lingering_timeout, lingering_time): closing while input still
 * arrives would send an RST that destroys replies in flight. */
#define NK_CONN_LINGER_MS       10000
#define NK_CONN_LINGER_QUIET_MS 50
/* "Connection from" waits for the peer's first bytes, for at most this
 * long: a peer that closes before sending anything (a balancer's health
 * check: HAProxy's connects, sends its PROXY header if any, and resets)
 * is logged at debug level and counted as a check, not as an error. */
#define NK_CONN_ANNOUNCE_MS 200

/* What OpenSSL holds for a handshake under way once its first record is
 * read (measured: about 46 KiB), counted against max_buffer_memory. */
#define NK_CONN_TLS_HS_COST (48 * 1024)

struct nk__listener;
struct ssl_st;

struct nk__conn {
    struct nk__io io; /* first member */
    struct nk_session sess;
    struct nk__listener *ls;
    struct nk__buf in, out;       /* leftovers only; see above */
    size_t need;                  /* bytes the message being read will take */
    size_t rsize;                 /* bytes the next read asks for */
    struct nk__conn *prev, *next; /* the listener's LRU list */
    uint64_t last_active;         /* loop time of the last read */
    struct nk__timer deadline;    /* message and write deadlines */
    uint64_t msg_since;           /* a partial message began (0: none) */
    uint64_t out_since; /* output began to wait (0: none); lingering: since */
    struct nk__ptimer *timers; /* the session's plugin timers */
    struct nk__defer later;    /* runs `pending` after the dispatch */
    struct nk__defer turn;     /* decoding resumes next turn (fairness) */
    unsigned pending;          /* CONN_LATER_* bits */
    const char *closing_why;   /* logged when a close_after_write ends */
    char *via;      /* " (via ADDR, PROXY v2)" for the "Connection from" line */
    size_t charged; /* bytes of buffers counted against the budget */
    unsigned opened : 1;     /* on_open succeeded: on_close is owed */
    unsigned outbound : 1;   /* opened by host->connect */
    unsigned connecting : 1; /* outbound, not connected yet */
    unsigned blocked : 1;    /* on_drain owed once `out` empties: the socket
                                refused output, or the plugin saw a queue */
    unsigned closing : 1;    /* no more callbacks; released soon */
    unsigned close_after_write : 1; /* close once `out` is written */
    unsigned paused : 1;            /* back-pressure: not reading */
    unsigned eof : 1;               /* the peer half-closed */
    unsigned draining : 1;          /* shutting down: no more reads */
    unsigned lingering : 1;  /* session over; discarding input, then close */
    unsigned released : 1;   /* on_close has run */
    unsigned backlog : 1;    /* complete messages wait for the next turn */
    unsigned linger_got : 1; /* lingering: input came since the last look */
    unsigned proxy_wait : 1; /* reading the PROXY header: no plugin yet */
    unsigned quiet : 1;      /* closed before the session began, logged */
    unsigned perip_held : 1; /* counted against max_conns_per_ip */
    unsigned announce : 1;   /* "Connection from" still to be logged */
    unsigned peer_gone : 1;  /* the peer closed or reset the connection */
    /* 1.2 flow control and half-close (flow.c) */
    unsigned read_off : 1;      /* pause_read: the plugin stopped reading */
    unsigned wm_above : 1;      /* output over the high watermark (since the
                                   last time it was at the low one) */
    unsigned wm_told : 1;       /* the state on_writable last told (1: above) */
    unsigned shut_wr : 1;       /* shutdown_write: no more sends, FIN after */
    unsigned wr_done : 1;       /* ... FIN sent */
    unsigned resolving : 1;     /* outbound: waiting for the name lookup */
    unsigned eof_told : 1;      /* on_eof has run */
    unsigned head_told : 1;     /* on_head has run for the message being read */
    unsigned delivering : 1;    /* inside on_message: in_rest is buffered() */
    unsigned timeout_told : 1;  /* on_timeout has run (deadline.c) */
    size_t in_rest;             /* bytes after the message being delivered */
    int connect_status;         /* outbound, never connected: on_connect's */
    size_t wm_high, wm_low;     /* output watermarks */
    struct nk__resolved *addrs; /* outbound: addresses left to try */
    int next_addr;

    /* TLS (tls/tls.h): the layer under the byte stream, or NULL */
    struct ssl_st *tls;
    struct nk__defer tls_more; /* read what TLS holds decrypted */
    unsigned tls_hs : 1;       /* TLS handshake under way: no plugin yet */
    unsigned tls_rw : 1;       /* TLS must write before it can read on */
    unsigned tls_again : 1;    /* TLS holds an end or error to read now */

    /* For the close line: when it was accepted (loop ms), bytes moved. */
    uint64_t opened_at;
    uint64_t bytes_in, bytes_out;
};

/* Adopt an accepted descriptor: register, on_open, log "Connection from".
 * The caller has taken one of the listener's slots (max_conns): the
 * connection gives it back when it closes, or at once if this fails. */
int nk__conn_open(struct nk__listener *ls, int fd, const struct sockaddr *sa,
                  socklen_t salen);

/* Open an outbound connection for ls's instance (host->connect). */
int nk__conn_connect(struct nk__listener *ls, const char *host,
                     const char *port, void *data, nk_sid *sid);

/* The host's send for a TCP session.  See nk_host.send. */
int nk__conn_send(struct nk__conn *c, const struct iovec *iov, int iovcnt);

/* Output queued for the peer and not yet written (host->queued). */
size_t nk__conn_queued(struct nk__conn *c);

/* Input received and not delivered yet (host->buffered). */
size_t nk__conn_buffered(const struct nk__conn *c);

/* Close after pending output is written (the plugin's host->close). */
void nk__conn_close_after_write(struct nk__conn *c);

/* Close now: on_close, log, release after dispatch.  `why` NULL: orderly. */
void nk__conn_close(struct nk__conn *c, const char *why);

/* Shutting down: stop reading, answer every complete message already read
 * (paused connections too), close once the output is written. */
void nk__conn_drain(struct nk__conn *c);

/* Drain the listener's least recently active connection (see
 * nk__conn_drain) and move it to the tail of the list. */
void nk__conn_drain_next(struct nk__listener *ls);

/* The worker's trim_timer: give the buffer memory freed back to the
 * system. */
void nk__conn_on_trim(struct nk__loop *loop, struct nk__timer *t);

/* Close the connections idle past the listener's timeout; re-arm. */
void nk__conn_idle_sweep(struct nk__listener *ls);

/* Hooks for flow.c.  Something about the connection's reading or writing
 * changed outside its own events (a pause lifted, a shutdown asked): write
 * what is queued, watch the right events, and answer buffered input in
 * the next turn. */
void nk__conn_kick(struct nk__conn *c);
/* Run nk__flow_tell for c after the current dispatch. */
void nk__conn_later_flow(struct nk__conn *c);

/* A name lookup for an outbound connection answered (NK_MAIL_RESOLVED). */
void nk__conn_resolved(struct nk__conn *c, const struct nk__resolved *r);

#endif /* NK_CORE_CONN_H */
