/*
 * netkit/plugin.h -- the whole netkit plugin API.
 *
 * Overview
 * --------
 * netkit is a host that owns every socket, the event loop, buffering, limits
 * and logging.  A protocol plugin is a shared object (NAME.so) that says two
 * things and nothing else:
 *
 *   1. how bytes become messages -- the codec: `decode` finds where the next
 *      message ends in a buffer of received bytes, `encode` says what goes
 *      before and after an outgoing message (a length field, a newline);
 *   2. what to answer -- the serving callbacks: `on_open`, `on_message`,
 *      `on_close`, which answer through the host's `send`.
 *
 * A plugin never sees a file descriptor.  The host hands it bytes and a table
 * of services (struct nk_host: send, close, log, peer name, per-session data),
 * so a plugin links against no netkit symbol, can be driven by a test with a
 * fake host table (<netkit/testkit.h> is one, installed for plugin authors),
 * and cannot break the event loop's invariants.
 *
 * The same codec serves `netkit serve`, `netkit connect` and any load
 * generator: the client encodes its messages and decodes the replies with the
 * plugin's own functions.
 *
 * Life cycle
 * ----------
 *   dlopen(NAME.so) -> nk_plugin_entry() -> checks (ABI, size, name, callbacks,
 *   transport, options) -> create() once per listener or client ->
 *   { on_open -> on_message* -> on_close } per TCP connection (UDP: on_message
 *   per datagram, no open/close) -> destroy() -> dlclose.
 *
 * Threads.  With `-w N` there are N workers, each a thread with its own
 * event loop, and by default each listener has one instance per worker:
 * every callback of an instance runs on that worker's thread, so an
 * instance needs no locks.  Instances of one listener talk to each other
 * with `post` (a message to one worker's instance, or to all of them), and
 * reach a session of another worker with `send_to`/`close_to` and its
 * handle (nk_sid).  A plugin whose state cannot be split (one keyspace) sets
 * NK_PLUGIN_ONE_INSTANCE: the listener then has a single instance and every
 * one of its connections is served by one worker.
 *
 * Lifetime.  A session pointer is valid from on_open (or a successful
 * on_connect) until on_close returns; for UDP, during on_message only.
 * Keep a handle (host->session_id) to refer to a session from another
 * worker or without knowing whether it is still open: a stale handle is an
 * error (NK_ENOENT), never a crash.
 *
 * Streams (ABI 1.2).  A relay or gateway moves bytes between sessions
 * without dropping them or buffering without bound: pause_read stops
 * reading a session (its socket's receive buffer fills and TCP stops the
 * peer), on_writable says when a session's output passes its high
 * watermark and falls back to its low one, NK_PLUGIN_HALF_CLOSE with
 * on_eof and shutdown_write carries a half-close through, and connect
 * takes host names, times out and is cancelled by close.  on_head and
 * buffered let a plugin act on a message's head before its body, and tell
 * a half-received message from an idle connection; on_timeout lets it
 * answer (408) or close silently when a host deadline fires.
 * examples/proxy uses the flow control, examples/http the partial input.
 *
 * No re-entry.  The host never calls the plugin back from inside a host
 * service: a send that fails or a close only marks the session, and
 * on_close -- and anything else they cause -- runs after the outermost
 * callback has returned.  So a plugin may loop over its own list of
 * sessions, sending to each, and free a session's data in on_close.
 *
 * A worked example is plugins/raw.c (about 100 lines); plugins/framed.c shows
 * a length-prefixed codec and plugins/line.c a newline-delimited one.
 * examples/pubsub uses sessions across workers and timers, examples/proxy
 * flow control and half-close, and plugin-guide.md walks through writing a
 * plugin.  make install puts all of them in PREFIX/share/doc/netkit/ (these
 * paths are relative to it; in the netkit sources the guide is
 * docs/plugin-guide.md).
 *
 * Minimal plugin (a whole-chunk codec that answers "hi " + message):
 *
 *     #include <netkit/plugin.h>
 *
 *     static long
 *     hi_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
 *     {
 *         (void)inst;
 *         f->payload = buf, f->payload_len = len, f->need = 0;
 *         return (long)len;
 *     }
 *     static int
 *     hi_encode(void *inst, size_t n, struct nk_wrap *w)
 *     {
 *         (void)inst, (void)n, (void)w;
 *         return 0;    // no header, no trailer
 *     }
 *     static int
 *     hi_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
 *     {
 *         const struct nk_host *host = inst;
 *         struct iovec iov[2] = {{(void *)"hi ", 3}, {(void *)p, n}};
 *         return host->send(s, iov, 2);
 *     }
 *     static int
 *     hi_create(struct nk_setup *su)
 *     {
 *         su->inst = (void *)su->host;
 *         return 0;
 *     }
 *     static void
 *     hi_destroy(void *inst)
 *     {
 *         (void)inst;
 *     }
 *
 *     static const struct nk_plugin hi = NK_PLUGIN_INIT(
 *         .name = "hi", .version = "1.0", .summary = "answers hi",
 *         .transports = NK_TRANSPORT_TCP | NK_TRANSPORT_UDP,
 *         .create = hi_create, .destroy = hi_destroy, .decode = hi_decode,
 *         .encode = hi_encode, .on_message = hi_message);
 *     NK_PLUGIN_DEFINE(hi)
 */
#ifndef NETKIT_PLUGIN_H
#define NETKIT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <netkit/error.h>
#include <netkit/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Export only the entry symbol: build plugins with -fvisibility=hidden. */
#define NK_PLUGIN_EXPORT __attribute__((visibility("default")))

/* The one symbol the host looks up in every plugin. */
#define NK_PLUGIN_ENTRY_SYMBOL "nk_plugin_entry"

/* Transports a plugin supports (bit set). */
#define NK_TRANSPORT_TCP 0x1u
#define NK_TRANSPORT_UDP 0x2u

/* The most bytes `encode` may put before, and after, a message in
 * nk_wrap's own arrays; a longer head or tail goes through head_ext and
 * tail_ext, up to NK_WRAP_MAX bytes each (ABI 1.1). */
#define NK_HDR_MAX  16
#define NK_WRAP_MAX 65536

/* The most iovecs one `send` may carry. */
#define NK_SEND_IOV_MAX 8

/* Log levels, most severe first. */
enum nk_log_level {
    NK_LOG_ERROR = 0,
    NK_LOG_WARN = 1,
    NK_LOG_INFO = 2,
    NK_LOG_DEBUG = 3
};

/* ---------------------------------------------------------------------------
 * Options
 *
 * A plugin declares its options in a table; the host parses and validates
 * every value (from `-O KEY=VALUE` or a `[plugin.NAME]` config section)
 * against it before any socket opens, and prints it for
 * `netkit plugins NAME`.  An unknown key or a bad value is a start-up error
 * naming the option, so `create` only sees well-formed values.
 * ------------------------------------------------------------------------- */

/*
 * Every value -- `-O KEY=VALUE`, a config file's, and the table's `def` --
 * is read by one rule before its type applies: a value that starts with '"'
 * must end with the matching '"' and may hold the escapes
 * \n \t \r \\ \" \0 \xHH inside; any other value is taken as written,
 * backslashes included.  So .def = "\"hi \"" keeps its trailing blank.
 */
enum nk_opt_type {
    NK_OPT_STRING = 1, /* bytes, possibly with NULs (see the rule above) */
    NK_OPT_INT,        /* decimal integer in [min, max] */
    NK_OPT_SIZE,       /* like INT, with suffix k (1024) or M (1024^2) */
    NK_OPT_BOOL,       /* 1/0, true/false, yes/no, on/off */
    NK_OPT_ENUM        /* one of `choices`, separated by '|' */
};

struct nk_option {
    const char *name;      /* key, e.g. "prefix" */
    enum nk_opt_type type; /* how the host parses the value */
    const char *def;       /* default, written as a user would write it */
    const char *help;      /* one line for `netkit plugins NAME` */
    long long min, max;    /* INT and SIZE: inclusive range */
    const char *choices;   /* ENUM: "little|big" */
};

/*
 * A validated option value.  The host passes create() an array of these in
 * the order of the plugin's option table, with the default filled in for
 * every option the user did not set.  Borrowed: valid during create() only;
 * copy what you keep.
 */
struct nk_value {
    const char *str; /* the value's bytes, NUL-terminated (may hold NULs) */
    size_t len;      /* length of str without the terminator */
    long long num;   /* INT, SIZE, BOOL: the number; ENUM: index in choices */
};

/* ---------------------------------------------------------------------------
 * Host services
 * ------------------------------------------------------------------------- */

/* One peer: a TCP connection, or for UDP the sender of one datagram. */
struct nk_session;

/* The host's side of one plugin instance, handed to create (nk_setup.ctx)
 * and valid until destroy returns.  Services that act for the instance
 * rather than for a session take it. */
struct nk_ctx;

/* A session handle: usable from any worker of the listener, and at any
 * time; a handle whose session has closed is stale, and services given one
 * return NK_ENOENT.  0 is never a valid handle. */
typedef uint64_t nk_sid;

/* A timer handle (0 is never valid); see nk_host.timer_start. */
typedef uint64_t nk_timer_id;

/* A timer fired.  s is the session the timer belongs to, or NULL for an
 * instance timer. */
typedef void (*nk_timer_fn)(void *inst, struct nk_session *s, void *arg);

/* post's worker argument: every worker's instance, this one included. */
#define NK_WORKER_ALL (-1)

/* The largest post, or send_to to another worker's session: a larger one
 * could never be delivered and fails with NK_EMSGSIZE (1.2; 1.1 said
 * NK_EAGAIN). */
#define NK_POST_MAX ((16u << 20) - 64u)

/* host->tls_info's answer (ABI 1.2). */
struct nk_tls_info {
    uint32_t size;       /* set by the caller: sizeof(struct nk_tls_info) */
    const char *version; /* "TLSv1.3", "TLSv1.2" */
    const char *cipher;  /* "TLS_AES_256_GCM_SHA384" */
    const char *alpn;    /* the protocol ALPN chose, or NULL (none) */
    const char *sni;     /* the server name the client asked for, or NULL */
    /* The client certificate's subject, RFC 2253 ("CN=alice,O=Example"),
     * verified against the listener's tls_ca; NULL when there is none
     * (tls_verify none, or optional and the client sent none). */
    const char *peer_subject;
    int resumed; /* 1: the session resumed from a ticket */
};

struct nk_host {
    /* sizeof(struct nk_host) of the host: members past it do not exist. */
    uint32_t size;

    /*
     * Send one message to the session's peer.  The payload is the
     * concatenation of iov[0..iovcnt) (at most NK_SEND_IOV_MAX); the host
     * asks the plugin's `encode` how to wrap it and sends head, payload and
     * tail together, in one write where it can.  The bytes are copied or sent
     * before send returns: the plugin owns nothing afterwards.
     * Returns 0, or NK_EMSGSIZE (encode refused the length), NK_EINVAL,
     * NK_ENOMEM, or NK_EPIPE when the session is closing (the plugin or the
     * host closed it, or the peer's output passed the listener's
     * max_output), or (1.2) after shutdown_write: nothing was queued.  A
     * peer that stops reading does not make send fail at once: the host
     * queues, and stops reading from that peer past its high watermark
     * (see `queued`, on_drain and, 1.2, on_writable, with which the
     * plugin decides what to pause instead).
     */
    int (*send)(struct nk_session *s, const struct iovec *iov, int iovcnt);

    /*
     * Close the session after what was sent has been written (for UDP, a
     * no-op).  Safe to call from inside on_message: the session stays valid
     * until the callback returns, and no further on_message follows.
     */
    void (*close)(struct nk_session *s);

    /* Log one line at `level`, attributed to the session (s may be NULL). */
    void (*log)(struct nk_session *s, enum nk_log_level level, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

    /* The peer as text, "127.0.0.1:5000" or "[::1]:5000".  Valid while the
     * session lives. */
    const char *(*peer_name)(struct nk_session *s);

    /* One pointer of plugin data per session (TCP only; NULL at first). */
    void *(*get_data)(struct nk_session *s);
    void (*set_data)(struct nk_session *s, void *data);

    /* ---- ABI 1.1 ------------------------------------------------------ */

    /* The session's handle, for send_to / close_to (0 for a UDP session,
     * which lives for one on_message only). */
    nk_sid (*session_id)(struct nk_session *s);

    /*
     * send and close by handle, from any callback or timer of any instance
     * of the listener.  On the session's own worker they act at once, like
     * send and close; from another worker the payload is copied and the
     * work is posted to the session's worker.  Returns 0, NK_ENOENT for a
     * stale handle (known at once on the same worker only: a cross-worker
     * send to a session that closes meanwhile is dropped), or send's errors.
     */
    int (*send_to)(struct nk_ctx *ctx, nk_sid sid, const struct iovec *iov,
                   int iovcnt);
    int (*close_to)(struct nk_ctx *ctx, nk_sid sid);

    /* Bytes queued for the session's peer that the socket has not taken
     * yet.  Use it to stream a large reply in pieces, or to drop messages
     * for a slow reader; on_drain says when the queue has emptied. */
    size_t (*queued)(struct nk_session *s);

    /*
     * Start a timer: fn(inst, s, arg) runs on this instance's thread after
     * delay_ms, then every repeat_ms if repeat_ms > 0.  s == NULL makes an
     * instance timer; else it belongs to the TCP session s and is stopped
     * when s closes (no timer of a session fires after its on_close, and
     * none fires after destroy).  A timer fires within one loop turn of its
     * deadline (millisecond clock).  Returns the timer's id, or 0 (no
     * memory, a UDP session, a closing session).  A one-shot timer's id is
     * stale once it has fired.
     */
    nk_timer_id (*timer_start)(struct nk_ctx *ctx, struct nk_session *s,
                               uint64_t delay_ms, uint64_t repeat_ms,
                               nk_timer_fn fn, void *arg);
    /* Stop a timer of this instance.  Returns 0, or NK_ENOENT when it has
     * already fired (one-shot), been stopped, or died with its session.
     * Safe from inside the timer's own callback. */
    int (*timer_stop)(struct nk_ctx *ctx, nk_timer_id id);

    /*
     * Post len bytes (copied) to the instance of this listener on worker
     * `worker` (0 .. nk_setup.workers - 1), or to every worker's instance
     * with NK_WORKER_ALL, this one included: the plugin's on_post runs
     * there, on that worker's thread, after the current callback returns.
     * Posts from one worker to another arrive in the order they were made.
     * Returns 0, NK_EINVAL (no on_post, a bad worker), NK_ENOMEM,
     * NK_EMSGSIZE (len over NK_POST_MAX: it never could fit), or
     * NK_EAGAIN when the target's queue is over its limit (16 MiB): try
     * again later.
     */
    int (*post)(struct nk_ctx *ctx, int worker, const void *data, size_t len);

    /*
     * Open a TCP connection to host and port, as a session of this
     * instance: it uses the plugin's codec, limits and callbacks like an
     * accepted one, and runs on this worker.  host is an IP literal or
     * (1.2) a host name, looked up off the loop by the host's resolver
     * threads (getaddrinfo: /etc/hosts and DNS as the system is set up);
     * every address it gives is tried in turn.  port is a number.  data
     * becomes the session's get_data.  The result arrives in on_connect,
     * never before connect returns.  *sid (may be NULL) gets the new
     * session's handle; sends made before on_connect are queued until the
     * connection is up.
     *
     * Every successful connect ends in exactly one of: on_connect(s, 0)
     * and later on_close; or on_connect(s, status < 0) and nothing more,
     * when it never connected -- refused (a -errno), no such host
     * (NK_ENOHOST), not within nk_setup.connect_timeout_ms (NK_ETIMEDOUT),
     * or cancelled (NK_ECANCELED): close or close_to on a pending
     * connection cancels it, and so does a shutdown.  What was sent to a
     * cancelled connection is dropped, never written.
     *
     * An outbound connection holds one of the listener's max_conns slots
     * like an accepted one (so a proxy under max_conns N holds at most N
     * descriptors).  Returns 0, NK_EINVAL (bad address or port, no
     * on_connect), NK_EAGAIN (no slot left), NK_ENOMEM, or a -errno from
     * socket(2).
     */
    int (*connect)(struct nk_ctx *ctx, const char *host, const char *port,
                   void *data, nk_sid *sid);

    /* The loop's clock: monotonic milliseconds, as timers count them. */
    uint64_t (*now_ms)(struct nk_ctx *ctx);

    /* ---- ABI 1.2: flow control and half-close ------------------------ */
    /* A plugin built for 1.2 that may run on an older host checks
     * host->size > offsetof(struct nk_host, pause_read) before calling
     * these. */

    /*
     * Stop reading from the session's peer, and resume.  A paused session
     * gets no on_message (what was read already waits in its buffer) and
     * its socket is not read at all, so the kernel's receive buffer fills
     * and TCP flow control stops the peer: its writes block, nothing is
     * dropped and netkit buffers nothing more.  resume_read delivers what
     * waited, then reads again.  Either may be called from any callback of
     * any instance of the listener, for any of its sessions (by handle;
     * from another worker the request is posted in order with send_to and
     * close_to).  Pausing a paused session, or resuming a running one, is
     * a no-op: the state is one bit, not a count.  Paused time counts
     * toward the listener's idle and message timeouts.
     * Returns 0, NK_EINVAL, NK_ENOENT (a stale handle, known at once on
     * the same worker only), or NK_ENOMEM / NK_EAGAIN (the other worker's
     * mailbox is full).
     */
    int (*pause_read)(struct nk_ctx *ctx, nk_sid sid);
    int (*resume_read)(struct nk_ctx *ctx, nk_sid sid);

    /*
     * Shut down the writing side once every byte queued for the peer has
     * been written (TCP's FIN: the peer reads end of file); the session
     * stays open for reading.  Sends after it fail with NK_EPIPE.  With
     * NK_PLUGIN_HALF_CLOSE, a session whose peer has ended its input
     * (on_eof) and whose own output is shut is over: the host closes it
     * and on_close follows.  On a pending outbound connection it applies
     * once connected.  Returns 0, NK_EINVAL, NK_ENOENT, or NK_EPIPE (the
     * session is closing); across workers like pause_read.
     */
    int (*shutdown_write)(struct nk_ctx *ctx, nk_sid sid);

    /*
     * Set the session's output watermarks (bytes queued for the peer, as
     * `queued` counts them): when the queue passes `high` the plugin's
     * on_writable(s, 0) runs, and once it is back at `low` or below,
     * on_writable(s, 1).  0 < low < high.  The listener's defaults come
     * from nk_setup.out_high / out_low.  Returns 0 or NK_EINVAL (a UDP or
     * closing session, or bad marks).
     */
    int (*set_watermarks)(struct nk_session *s, size_t high, size_t low);

    /*
     * Bytes received from the peer that no on_message has delivered yet:
     * a partial message, or messages held by a pause.  Inside on_message,
     * those after the current message.  From a timer or on_timeout, the
     * answer to "is a request half received, or is the connection idle":
     * HTTP answers 408 to the first and closes the second silently.  0 for
     * UDP.
     */
    size_t (*buffered)(struct nk_session *s);

    /* ---- ABI 1.2: TLS ------------------------------------------------- */

    /*
     * What the TLS handshake of a session settled (the listener's tls_*
     * keys; the host does TLS, the plugin sees plain bytes).  The caller
     * sets info->size to sizeof(struct nk_tls_info); the strings stay
     * valid until the current callback returns.  Returns 0, or NK_ENOENT
     * when the session is not over TLS (UDP, a listener without TLS, an
     * outbound connection), NK_EINVAL for a bad argument.
     */
    int (*tls_info)(struct nk_session *s, struct nk_tls_info *info);
};

/* ---------------------------------------------------------------------------
 * Instances
 * ------------------------------------------------------------------------- */

/*
 * What the host hands `create`, and what create fills in.  One instance is
 * created per listener (and per `netkit connect`), so two listeners using one
 * plugin with different options do not share state.
 */
struct nk_setup {
    uint32_t size;               /* sizeof(struct nk_setup) of the host */
    const struct nk_host *host;  /* services; valid until destroy */
    const struct nk_value *opts; /* one per option-table row; borrowed */
    unsigned transport;          /* NK_TRANSPORT_TCP or NK_TRANSPORT_UDP */

    /* Out: the largest message, framing included, the host may buffer for
     * this instance.  The host sets a default (1 MiB + 2 * NK_HDR_MAX) before
     * calling create; a plugin with a `max_frame` option sets its own. */
    size_t max_message;

    void *inst;    /* out: the instance, passed to every other callback */
    char err[160]; /* out: on failure, why (no trailing newline) */

    /* ---- ABI 1.1 ------------------------------------------------------ */
    unsigned role;      /* NK_ROLE_SERVE or NK_ROLE_CONNECT */
    struct nk_ctx *ctx; /* this instance's context for host services */
    int worker;         /* this instance's worker, 0 .. workers - 1 */
    int workers;        /* instances of this listener (1 with
                           NK_PLUGIN_ONE_INSTANCE, and for connect) */

    /* ---- ABI 1.2 ------------------------------------------------------ */
    /* In/out: the output watermarks every session of the instance starts
     * with (see nk_host.set_watermarks and on_writable).  The host sets
     * NK_OUT_HIGH_DEFAULT and NK_OUT_LOW_DEFAULT; create may change them
     * (a proxy: a few hundred KiB).  0 < out_low < out_high. */
    size_t out_high, out_low;
    /* In/out: how long an outbound connection (host->connect) may take,
     * name lookup included, before on_connect gets NK_ETIMEDOUT; 0 waits
     * as long as the kernel does.  The host sets
     * NK_CONNECT_TIMEOUT_DEFAULT. */
    uint64_t connect_timeout_ms;
};

/* nk_setup's defaults (1.2). */
#define NK_OUT_HIGH_DEFAULT        (1024u * 1024u)
#define NK_OUT_LOW_DEFAULT         (256u * 1024u)
#define NK_CONNECT_TIMEOUT_DEFAULT 10000u

/* nk_setup.role: serving a listener, or `netkit connect` (which uses the
 * codec only: encode frames requests, decode finds replies). */
#define NK_ROLE_SERVE   1u
#define NK_ROLE_CONNECT 2u

/* ---------------------------------------------------------------------------
 * The codec
 * ------------------------------------------------------------------------- */

/* Where decode found a message, within the buffer it was given. */
struct nk_frame {
    const uint8_t *payload; /* the message's payload (inside buf) */
    size_t payload_len;
    size_t need; /* with NK_ENEEDMORE: total bytes of the message if known */
    /* 1.1: with a malformed-input error, a short reason for the log and
     * on_bad_input ("line too long"); NULL if none.  It may be static or
     * (1.2) text the plugin formatted for this input in memory of its
     * instance ("line of 70000 bytes over 65536"): the host reads it
     * before it calls decode again on that instance and keeps no pointer
     * to it, so a buffer in the instance, rewritten by each decode that
     * fails, is enough. */
    const char *why;
    /* 1.2: with NK_ENEEDMORE, the message's head is complete and takes
     * its first head_len bytes (<= len): the host calls on_head once for
     * the message, so the plugin can act before the body arrives (HTTP's
     * "100 Continue").  0: no head to tell (or not yet). */
    size_t head_len;
};

/*
 * decode: find the first message in buf[0..len).  len > 0, except for an
 * empty UDP datagram (a UDP datagram is one message exactly when decode
 * returns its whole length).  Returns
 *   >= 0           the message takes that many bytes from buf (0 only for
 *                  an empty datagram); frame->payload
 *                  and frame->payload_len say where its payload is;
 *   NK_ENEEDMORE   the message is incomplete; frame->need is the total length
 *                  the message will have, header included, once the header is
 *                  complete (else 0).  The host refuses a message whose need
 *                  passes the instance's max_message before buffering it;
 *   < 0 otherwise  the input is malformed (NK_EPROTO, NK_EFRAMETOOBIG): the
 *                  host calls on_bad_input if the plugin has it (to answer
 *                  "-ERR Protocol error" or "400 Bad Request"), then closes
 *                  the connection once what was answered is written, or
 *                  drops a datagram; frame->why reaches the log.  A message
 *                  over max_message gets on_bad_input too, with
 *                  NK_EFRAMETOOBIG (HTTP's 413).
 * buf is borrowed for the call.  Must not keep state between calls: the host
 * may call it again on the same bytes.
 *
 * The host checks every answer, and a broken rule closes that connection
 * (drops that datagram) with a log line naming the plugin and the rule: a
 * message longer than len; 0 on a stream; a payload outside the message; an
 * NK_ENEEDMORE whose need is not more than len.
 */
typedef long (*nk_decode_fn)(void *inst, const uint8_t *buf, size_t len,
                             struct nk_frame *frame);

/*
 * How one outgoing message is wrapped: bytes that go before its payload
 * (a length field) and after it (a line protocol's "\n").  encode sees
 * the payload's length only, never its bytes, so a head or tail cannot
 * depend on them (no checksum: put one in the payload itself).  The
 * host zeroes both lengths before calling encode, and sends head, payload
 * and tail together, in one write where it can.
 */
struct nk_wrap {
    uint8_t head[NK_HDR_MAX];
    size_t head_len; /* 0..NK_HDR_MAX, or 0..NK_WRAP_MAX with head_ext */
    uint8_t tail[NK_HDR_MAX];
    size_t tail_len; /* 0..NK_HDR_MAX, or 0..NK_WRAP_MAX with tail_ext */

    /* 1.1: a head or tail longer than NK_HDR_MAX (an HTTP request line and
     * its headers).  Point these at head_len / tail_len bytes that the
     * plugin owns and keeps unchanged until its next encode call, such as
     * a buffer in the instance; the host copies them before then.  NULL:
     * the arrays above are used. */
    const uint8_t *head_ext;
    const uint8_t *tail_ext;
};

/*
 * encode: fill w for a message whose payload is payload_len bytes.  Returns
 * 0, or NK_EMSGSIZE when the length cannot be expressed (a 1-byte length
 * field and 256 bytes).  An unframed protocol leaves w empty.  The same
 * function frames the server's replies and `netkit connect`'s requests.
 * Any other result (a positive return, a length past NK_HDR_MAX without
 * an _ext pointer, or past NK_WRAP_MAX) breaks the contract: the host's
 * send then fails with NK_EINVAL.
 */
typedef int (*nk_encode_fn)(void *inst, size_t payload_len, struct nk_wrap *w);

/* ---------------------------------------------------------------------------
 * The plugin description
 * ------------------------------------------------------------------------- */

struct nk_plugin {
    uint32_t abi_major; /* NK_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor; /* NK_ABI_MINOR the plugin was built with */
    uint32_t size;      /* sizeof(struct nk_plugin) the plugin was built with */

    const char *name;    /* must equal the file's basename without .so */
    const char *version; /* the plugin's own version, e.g. "1.0.0" */
    const char *summary; /* one line for `netkit plugins` */
    unsigned transports; /* NK_TRANSPORT_* bits */
    const struct nk_option *options; /* table ended by a {NULL} row; may be
                                        NULL when there are no options */

    /* Required.  Build an instance from validated options (see nk_setup).
     * Returns 0, or < 0 with setup->err saying why (a start-up error). */
    int (*create)(struct nk_setup *setup);
    /* Required.  Free the instance; called once per successful create,
     * after on_close of every session.  Only log and now_ms serve it: the
     * services that take ctx (send_to, close_to, post, connect, timers,
     * pause_read, resume_read, shutdown_write) fail with NK_EPIPE there
     * (timer_start returns 0), since nothing they start could run. */
    void (*destroy)(void *inst);

    nk_decode_fn decode; /* required */
    nk_encode_fn encode; /* required */

    /* Optional (TCP).  A connection opened.  Returns 0, or < 0 to refuse it
     * (the host closes it without calling on_close). */
    int (*on_open)(void *inst, struct nk_session *s);

    /* Required for serving.  One decoded message; payload is borrowed for the
     * call.  Returns 0, or < 0 to close the session (NK_ECLOSE for an
     * orderly close, which is not logged as an error). */
    int (*on_message)(void *inst, struct nk_session *s, const uint8_t *payload,
                      size_t len);

    /* Optional (TCP).  Called exactly once for each successful on_open (and
     * each successful on_connect), when the connection is gone for any
     * reason, after the callback that closed it has returned; free
     * per-session data here.  The session is valid until it returns; sends
     * to it fail with NK_EPIPE. */
    void (*on_close)(void *inst, struct nk_session *s);

    /* ---- ABI 1.1: every member below is optional ---------------------- */

    /* NK_PLUGIN_* flags. */
    unsigned flags;

    /* decode said the input is malformed: answer it with send if the
     * protocol has an error reply.  err is decode's code, why its
     * frame->why (may be NULL).  The host then closes the session after
     * writing what is queued. */
    void (*on_bad_input)(void *inst, struct nk_session *s, int err,
                         const char *why);

    /* The session's output queue is empty again, after the socket had
     * stopped taking it or the plugin saw it non-empty (queued() > 0): a
     * good time to send the next piece.  Called once per such wait. */
    void (*on_drain)(void *inst, struct nk_session *s);

    /* A message another instance (or this one) posted with host->post.
     * data is borrowed for the call. */
    void (*on_post)(void *inst, const void *data, size_t len);

    /* An outbound connection (host->connect) is up (status 0: the session
     * is open, and on_close is owed) or never will be (status < 0: a
     * -errno, NK_ENOHOST, NK_ETIMEDOUT or NK_ECANCELED; s is valid for
     * this call only, get_data still works, no on_close).  See connect. */
    void (*on_connect)(void *inst, struct nk_session *s, int status);

    /* ---- ABI 1.2: every member below is optional ---------------------- */

    /*
     * The session's output queue passed its high watermark (writable 0:
     * stop producing for it, e.g. pause_read the session that feeds it),
     * or fell back to its low watermark (writable 1: go on).  Called on
     * each change only, from the loop, after the callback that caused it.
     * A plugin with on_writable manages its own flow: the host then no
     * longer stops reading a session whose own output is over the high
     * watermark (which would stall a relay's other direction), and relies
     * on the plugin to pause what feeds a full queue.  Past the listener's
     * max_output the session is still closed.
     */
    void (*on_writable)(void *inst, struct nk_session *s, int writable);

    /*
     * With NK_PLUGIN_HALF_CLOSE: the peer shut down its writing side (TCP
     * FIN) after every complete message before it was delivered; the
     * session stays open for sending.  It ends when the plugin closes it,
     * or once its own output is shut too (shutdown_write).  Without the
     * flag, end of input ends the session as in 1.0 and 1.1 (after the
     * replies are written), and on_eof is not called.
     */
    void (*on_eof)(void *inst, struct nk_session *s);

    /*
     * decode said NK_ENEEDMORE with frame->head_len > 0: the head of the
     * message being received, head[0..len), borrowed for the call.  Once
     * per message (the first decode that reports its head), before its
     * on_message.  Sends go out at once, ahead of the body: the place for
     * HTTP's "100 Continue", or for refusing a body that is too large
     * (close, or an answer and close).
     */
    void (*on_head)(void *inst, struct nk_session *s, const uint8_t *head,
                    size_t len);

    /*
     * A reload (SIGHUP) made new_inst for a listener of the same name and
     * plugin that old_inst serves: move what should live on (a keyspace,
     * counters) from old_inst to new_inst.  It runs on old_inst's worker,
     * between its callbacks, before new_inst has run anything or accepted
     * a connection, once per worker instance (with
     * NK_PLUGIN_ONE_INSTANCE, once); new_inst was made by create with the
     * new options.  Connections open at the reload finish on old_inst,
     * and what they change afterwards stays there: a plugin whose state
     * must not fork closes them here (close_to on its handles), so their
     * clients reconnect to the new instance.  old_inst is destroyed later,
     * once its last connection has closed.  Without on_reload, new_inst
     * starts empty.
     */
    void (*on_reload)(void *old_inst, void *new_inst);

    /*
     * One of the host's own deadlines fired for the session (kind: a
     * NK_TIMEOUT_*): the listener's idle_timeout (nothing read or written
     * for that long), message_timeout (a message begun and not finished in
     * time) or write_timeout (the peer took no output for that long).  The
     * host closes the session after this returns; on_timeout only chooses
     * how.  For IDLE and MESSAGE, what it sends is written first, then the
     * session closes (the write timeout bounds that write); if it sends
     * nothing, the session closes at once.  host->buffered(s) tells a
     * message begun (> 0: HTTP answers 408) from an idle connection (0:
     * close silently, as nginx does on a keep-alive connection).  For
     * WRITE the peer is not reading: what it sends is dropped.  Called at
     * most once per session; a second deadline closes without it.
     * Without on_timeout the session just closes (1.0, 1.1).
     */
    void (*on_timeout)(void *inst, struct nk_session *s, int kind);
};

/* on_timeout's kind (1.2). */
#define NK_TIMEOUT_IDLE    1 /* idle_timeout: no traffic at all */
#define NK_TIMEOUT_MESSAGE 2 /* message_timeout: a message half received */
#define NK_TIMEOUT_WRITE   3 /* write_timeout: the peer stopped reading */

/* nk_plugin.flags: one instance per listener, all of whose connections
 * and datagrams one worker serves (for state that cannot be split, like a
 * keyspace).  Without it, each worker has an instance of its own. */
#define NK_PLUGIN_ONE_INSTANCE 0x1u

/* nk_plugin.flags (1.2): a peer's end of input does not end the session;
 * on_eof says it came (Netty's ALLOW_HALF_CLOSURE).  See on_eof and
 * nk_host.shutdown_write. */
#define NK_PLUGIN_HALF_CLOSE 0x2u

/* Fill the version header of a struct nk_plugin; unset members are NULL. */
#define NK_PLUGIN_INIT(...)                                                    \
    {                                                                          \
        .abi_major = NK_ABI_MAJOR, .abi_minor = NK_ABI_MINOR,                  \
        .size = sizeof(struct nk_plugin), __VA_ARGS__                          \
    }

/* Define the exported entry symbol returning the plugin description `var`. */
#define NK_PLUGIN_DEFINE(var)                                                  \
    NK_PLUGIN_EXPORT const struct nk_plugin *nk_plugin_entry(void);            \
    NK_PLUGIN_EXPORT const struct nk_plugin *nk_plugin_entry(void)             \
    {                                                                          \
        return &(var);                                                         \
    }

/* The entry symbol's type. */
typedef const struct nk_plugin *(*nk_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* NETKIT_PLUGIN_H */
