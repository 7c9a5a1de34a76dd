/*
 * fake_host.h -- a fake netkit host for driving one plugin without sockets.
 *
 * A plugin sees the host only through `struct nk_host`, so a test can stand
 * in for the whole core with a table of small functions:
 *
 *   - send records each message exactly as it would go on the wire: the
 *     head the plugin's own `encode` gives for the total payload length,
 *     the concatenated iovecs, then encode's tail (the real host does the
 *     same);
 *   - close counts closes, log counts and keeps the last line (printed when
 *     NK_TEST_VERBOSE is set), peer_name answers "127.0.0.1:5000", and
 *     get_data/set_data keep one pointer per session.
 *
 * It also builds the `struct nk_value` array the host would pass to create()
 * from a plugin's option table (defaults, with "name=value" overrides parsed
 * here, independently of the core's parser), runs create(), and emulates the
 * host's TCP read path (fake_host_feed) so that tests can feed a byte stream
 * in arbitrary pieces.
 *
 * Plugin authors have the installed <netkit/testkit.h>, which does all of
 * this and more (test_kit_line.c runs cases of these tests on it).  This
 * fake stays for the project's own fine-grained tests: it keeps feeding a
 * session after an error, where the kit, like the host, closes it.
 *
 * Header-only: every function is `static inline` so that a test including
 * this file and using only part of it still builds with -Werror.  It
 * includes <cmocka.h> and its prerequisites itself.  One fake host serves
 * one test at a time; nothing here is thread-safe.
 */
#ifndef NK_TEST_FAKE_HOST_H
#define NK_TEST_FAKE_HOST_H

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netkit/plugin.h>

#define FAKE_SENT_MAX 64  /* messages one test may send */
#define FAKE_OPTS_MAX 16  /* rows of an option table */
#define FAKE_LOG_LINE 256 /* bytes kept of the last log line */

/* A byte-string literal as (pointer, length), NULs inside included. */
#define FAKE_BYTES(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

/* Assert rc is 0, naming the netkit error otherwise (libssh style). */
#define assert_nk_ok(rc)                                                       \
    do {                                                                       \
        long nk__rc = (rc);                                                    \
        if (nk__rc != 0)                                                       \
            print_error("%s: %s\n", nk_err_name((int)nk__rc),                  \
                        nk_strerror((int)nk__rc));                             \
        assert_int_equal(nk__rc, 0);                                           \
    } while (0)

/* Assert rc is the netkit error `err`, naming both otherwise. */
#define assert_nk_err(rc, err)                                                 \
    do {                                                                       \
        long nk__rc = (rc);                                                    \
        if (nk__rc != (long)(err))                                             \
            print_error("got %s (%ld), expected %s\n",                         \
                        nk_err_name((int)nk__rc), nk__rc,                      \
                        nk_err_name((int)(err)));                              \
        assert_int_equal(nk__rc, (long)(err));                                 \
    } while (0)

/* Assert that message `idx` was sent and is exactly want[0..want_len). */
#define assert_sent(fh, idx, want, want_len)                                   \
    do {                                                                       \
        assert_true((size_t)(idx) < (fh)->nsent);                              \
        assert_int_equal((fh)->sent[(idx)].len, (want_len));                   \
        assert_memory_equal((fh)->sent[(idx)].bytes, (want), (want_len));      \
    } while (0)

/* The same, for a string literal (which may hold NULs). */
#define assert_sent_lit(fh, idx, lit) assert_sent(fh, idx, lit, sizeof(lit) - 1)

struct fake_host;

/*
 * The session.  The API keeps `struct nk_session` opaque, so the fake host
 * defines it: one peer, with its per-session data and its unread input.
 */
struct nk_session {
    struct fake_host *fake;
    void *data;      /* get_data / set_data */
    unsigned closes; /* how many times close was called */
    uint8_t *in;     /* bytes received and not yet consumed (feed) */
    size_t in_len, in_cap;
};

/* One message as it would be written: head, payload, then tail. */
struct fake_msg {
    struct nk_session *session;
    uint8_t *bytes;
    size_t len;      /* head + payload + tail */
    size_t head_len; /* encode's w.head_len */
    size_t tail_len; /* encode's w.tail_len */
};

struct fake_host {
    struct nk_host host; /* the table handed to create() */
    const struct nk_plugin *plugin;
    void *inst;                /* NULL until create succeeds */
    size_t max_message;        /* setup.max_message after create */
    char err[160];             /* setup.err after a failed create */
    struct nk_session session; /* the session tests use by default */

    struct fake_msg sent[FAKE_SENT_MAX];
    size_t nsent;
    int send_fail; /* when < 0, send fails with it and records nothing */
    unsigned closes;
    unsigned logs;
    char last_log[FAKE_LOG_LINE];
};

/* The option values handed to create(), with the storage behind them. */
struct fake_opts {
    struct nk_value v[FAKE_OPTS_MAX];
    char *buf[FAKE_OPTS_MAX];
    size_t n;
};

/* ------------------------------------------------------------------------
 * Host services
 * ---------------------------------------------------------------------- */

/* The fake that a session-less log line belongs to. */
static struct fake_host *fake_current;

/*
 * Run the plugin's encode as the host does: only the lengths are zeroed, the
 * bytes are poisoned, so a plugin that claims bytes it did not write is
 * caught by the tests' comparisons.  Returns encode's error or 0, with the
 * contract (0 on success, head and tail within NK_HDR_MAX) asserted.
 */
static inline int
fake_encode(struct fake_host *fh, size_t payload_len, struct nk_wrap *w)
{
    int rc;

    memset(w, 0xa5, sizeof(*w));
    w->head_len = 0;
    w->tail_len = 0;
    rc = fh->plugin->encode(fh->inst, payload_len, w);
    if (rc < 0)
        return rc;
    assert_int_equal(rc, 0);
    assert_in_range(w->head_len, 0, NK_HDR_MAX);
    assert_in_range(w->tail_len, 0, NK_HDR_MAX);
    return 0;
}

/*
 * See nk_host.send.  Checks the arguments as the host does, asks the plugin's
 * encode how to wrap the total length, and records head + payload + tail.
 */
static inline int
fake_send(struct nk_session *s, const struct iovec *iov, int iovcnt)
{
    struct fake_host *fh;
    struct fake_msg *m;
    struct nk_wrap w;
    size_t total = 0, off;
    int rc;

    assert_non_null(s);
    fh = s->fake;
    if (iovcnt < 0 || iovcnt > NK_SEND_IOV_MAX || (iovcnt > 0 && iov == NULL))
        return NK_EINVAL;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0 && iov[i].iov_base == NULL)
            return NK_EINVAL;
        if (total + iov[i].iov_len < total)
            return NK_EINVAL;
        total += iov[i].iov_len;
    }
    if (fh->send_fail < 0)
        return fh->send_fail;
    rc = fake_encode(fh, total, &w);
    if (rc < 0)
        return rc;
    assert_in_range(fh->nsent, 0, FAKE_SENT_MAX - 1);

    m = &fh->sent[fh->nsent];
    m->session = s;
    m->head_len = w.head_len;
    m->tail_len = w.tail_len;
    m->len = w.head_len + total + w.tail_len;
    m->bytes = malloc(m->len + 1); /* + 1: never malloc(0) */
    assert_non_null(m->bytes);
    memcpy(m->bytes, w.head, w.head_len);
    off = w.head_len;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0)
            memcpy(m->bytes + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    memcpy(m->bytes + off, w.tail, w.tail_len);
    fh->nsent++;
    return 0;
}

/* See nk_host.close: only counted, on the session and on the host. */
static inline void
fake_close(struct nk_session *s)
{
    assert_non_null(s);
    s->closes++;
    s->fake->closes++;
}

/* See nk_host.log: counted, the last line kept, printed when verbose. */
__attribute__((format(printf, 3, 4))) static inline void
fake_log(struct nk_session *s, enum nk_log_level level, const char *fmt, ...)
{
    struct fake_host *fh = s != NULL ? s->fake : fake_current;
    va_list ap;

    assert_non_null(fh);
    va_start(ap, fmt);
    vsnprintf(fh->last_log, sizeof(fh->last_log), fmt, ap);
    va_end(ap);
    fh->logs++;
    if (getenv("NK_TEST_VERBOSE") != NULL)
        fprintf(stderr, "[plugin log %d] %s\n", (int)level, fh->last_log);
}

/* See nk_host.peer_name. */
static inline const char *
fake_peer_name(struct nk_session *s)
{
    assert_non_null(s);
    return "127.0.0.1:5000";
}

/* See nk_host.get_data. */
static inline void *
fake_get_data(struct nk_session *s)
{
    assert_non_null(s);
    return s->data;
}

/* See nk_host.set_data. */
static inline void
fake_set_data(struct nk_session *s, void *data)
{
    assert_non_null(s);
    s->data = data;
}

/* ------------------------------------------------------------------------
 * Option values
 * ---------------------------------------------------------------------- */

/* Parse a whole decimal integer into *out; 0 or NK_EINVAL. */
static inline int
fake_parse_ll(const char *s, long long *out)
{
    char *end;

    if (*s == '\0')
        return NK_EINVAL;
    errno = 0;
    *out = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return NK_EINVAL;
    return 0;
}

/* A SIZE: a decimal integer with an optional suffix k (1024) or M (1024^2). */
static inline int
fake_parse_size(const char *s, long long *out)
{
    size_t n = strlen(s);
    long long mult = 1, v;
    char digits[64];

    if (n > 0 && (s[n - 1] == 'k' || s[n - 1] == 'M')) {
        mult = s[n - 1] == 'k' ? 1024 : 1024 * 1024;
        n--;
    }
    if (n >= sizeof(digits))
        return NK_EINVAL;
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (fake_parse_ll(digits, &v) != 0)
        return NK_EINVAL;
    if (v < 0 || v > LLONG_MAX / mult)
        return NK_EINVAL;
    *out = v * mult;
    return 0;
}

/* A BOOL: 1/0, true/false, yes/no, on/off. */
static inline int
fake_parse_bool(const char *s, long long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return NK_EINVAL;
}

/* An ENUM: the index of s among the '|'-separated choices. */
static inline int
fake_parse_enum(const char *s, const char *choices, long long *out)
{
    size_t n = strlen(s);
    long long i = 0;

    if (choices == NULL)
        return NK_EINVAL;
    for (const char *p = choices;; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);

        if (len == n && memcmp(p, s, n) == 0)
            return *out = i, 0;
        if (bar == NULL)
            return NK_EINVAL;
        p = bar + 1;
    }
}

/*
 * Set row i of fo to the value bytes[0..len) parsed as option o says.  The
 * bytes are copied and NUL-terminated; numbers are range-checked when the
 * row gives a range.
 */
static inline int
fake_opts_set_row(struct fake_opts *fo, size_t i, const struct nk_option *o,
                  const char *bytes, size_t len)
{
    struct nk_value *v = &fo->v[i];
    char *copy = malloc(len + 1);
    int rc = 0;

    if (copy == NULL)
        return NK_ENOMEM;
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    free(fo->buf[i]);
    fo->buf[i] = copy;
    v->str = copy;
    v->len = len;
    v->num = 0;

    switch (o->type) {
    case NK_OPT_STRING:
        break;
    case NK_OPT_INT:
        rc = fake_parse_ll(copy, &v->num);
        break;
    case NK_OPT_SIZE:
        rc = fake_parse_size(copy, &v->num);
        break;
    case NK_OPT_BOOL:
        rc = fake_parse_bool(copy, &v->num);
        break;
    case NK_OPT_ENUM:
        rc = fake_parse_enum(copy, o->choices, &v->num);
        break;
    default:
        rc = NK_EINVAL;
    }
    if (rc == 0 && (o->type == NK_OPT_INT || o->type == NK_OPT_SIZE) &&
        (o->min != 0 || o->max != 0) && (v->num < o->min || v->num > o->max))
        rc = NK_EINVAL;
    return rc;
}

/* The row of the option called name, or -1. */
static inline long
fake_opts_find(const struct nk_option *table, const char *name, size_t len)
{
    for (long i = 0; table != NULL && table[i].name != NULL; i++)
        if (strlen(table[i].name) == len &&
            memcmp(table[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Free the values' storage; fo may then be built again. */
static inline void
fake_opts_free(struct fake_opts *fo)
{
    for (size_t i = 0; i < FAKE_OPTS_MAX; i++)
        free(fo->buf[i]);
    memset(fo, 0, sizeof(*fo));
}

/*
 * Build the values of a plugin's option table: every default, then each
 * "name=value" of the NULL-terminated overrides (which may be NULL), the way
 * the host applies `-O name=value`.  Returns 0, or NK_EINVAL for an unknown
 * name or a malformed value (a message goes to stderr).
 */
static inline int
fake_opts_build(struct fake_opts *fo, const struct nk_option *table,
                const char *const *overrides)
{
    memset(fo, 0, sizeof(*fo));
    for (size_t i = 0; table != NULL && table[i].name != NULL; i++) {
        const char *def = table[i].def != NULL ? table[i].def : "";

        assert_in_range(i, 0, FAKE_OPTS_MAX - 1);
        fo->n = i + 1;
        if (fake_opts_set_row(fo, i, &table[i], def, strlen(def)) != 0) {
            fprintf(stderr, "fake_host: bad default %s=%s\n", table[i].name,
                    def);
            return NK_EINVAL;
        }
    }
    for (size_t k = 0; overrides != NULL && overrides[k] != NULL; k++) {
        const char *kv = overrides[k], *eq = strchr(kv, '=');
        long i = eq != NULL ? fake_opts_find(table, kv, (size_t)(eq - kv)) : -1;

        if (i < 0 || fake_opts_set_row(fo, (size_t)i, &table[i], eq + 1,
                                       strlen(eq + 1)) != 0) {
            fprintf(stderr, "fake_host: bad option '%s'\n", kv);
            return NK_EINVAL;
        }
    }
    return 0;
}

/* Override one STRING option with raw bytes (which may hold NULs). */
static inline int
fake_opts_set_bytes(struct fake_opts *fo, const struct nk_option *table,
                    const char *name, const void *bytes, size_t len)
{
    long i = fake_opts_find(table, name, strlen(name));

    if (i < 0 || table[i].type != NK_OPT_STRING)
        return NK_EINVAL;
    return fake_opts_set_row(fo, (size_t)i, &table[i], bytes, len);
}

/* ------------------------------------------------------------------------
 * The fake host's life cycle
 * ---------------------------------------------------------------------- */

/* Set up the host table and the default session for plugin p. */
static inline void
fake_host_init(struct fake_host *fh, const struct nk_plugin *p)
{
    memset(fh, 0, sizeof(*fh));
    /* The services of ABI 1.0 only (the 1.1 ones are not faked here; the
     * installed test kit, netkit/testkit.h, has them): a plugin that
     * checks host->size sees what it may call. */
    fh->host.size = offsetof(struct nk_host, session_id);
    fh->host.send = fake_send;
    fh->host.close = fake_close;
    fh->host.log = fake_log;
    fh->host.peer_name = fake_peer_name;
    fh->host.get_data = fake_get_data;
    fh->host.set_data = fake_set_data;
    fh->plugin = p;
    fh->session.fake = fh;
    fake_current = fh;
}

/*
 * Run the plugin's create() with the values in fo, as the host does: the
 * default max_message set beforehand, the values borrowed for the call only.
 * On success fh->inst and fh->max_message hold the results.  Returns create's
 * result; on failure fh->err holds the plugin's reason.
 */
static inline int
fake_host_create_opts(struct fake_host *fh, const struct fake_opts *fo,
                      unsigned transport)
{
    struct nk_setup su;
    int rc;

    fake_current = fh;
    memset(&su, 0, sizeof(su));
    su.size = sizeof(su);
    su.host = &fh->host;
    su.opts = fo->v;
    su.transport = transport;
    su.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
    rc = fh->plugin->create(&su);
    memcpy(fh->err, su.err, sizeof(fh->err));
    fh->err[sizeof(fh->err) - 1] = '\0';
    if (rc == 0) {
        fh->inst = su.inst;
        fh->max_message = su.max_message;
    }
    return rc;
}

/*
 * Build the values (defaults plus overrides), run create(), then free the
 * values at once: a plugin that kept a borrowed pointer reads freed memory,
 * which the sanitizers report.
 */
static inline int
fake_host_create(struct fake_host *fh, const char *const *overrides,
                 unsigned transport)
{
    struct fake_opts fo;
    int rc = fake_opts_build(&fo, fh->plugin->options, overrides);

    if (rc == 0)
        rc = fake_host_create_opts(fh, &fo, transport);
    fake_opts_free(&fo);
    return rc;
}

/* Forget what was sent and received (the instance stays). */
static inline void
fake_host_clear(struct fake_host *fh)
{
    for (size_t i = 0; i < fh->nsent; i++)
        free(fh->sent[i].bytes);
    memset(fh->sent, 0, sizeof(fh->sent));
    fh->nsent = 0;
    free(fh->session.in);
    fh->session.in = NULL;
    fh->session.in_len = fh->session.in_cap = 0;
    fh->session.closes = 0;
    fh->session.data = NULL;
    fh->closes = 0;
    fh->send_fail = 0;
}

/* Destroy the instance (if any) and free everything the fake holds. */
static inline void
fake_host_fini(struct fake_host *fh)
{
    if (fh->inst != NULL)
        fh->plugin->destroy(fh->inst);
    fh->inst = NULL;
    fake_host_clear(fh);
    if (fake_current == fh)
        fake_current = NULL;
}

/* Replace the instance by a new one built with other options. */
static inline int
fake_host_reopen(struct fake_host *fh, const char *const *overrides,
                 unsigned transport)
{
    fake_host_fini(fh);
    return fake_host_create(fh, overrides, transport);
}

/* ------------------------------------------------------------------------
 * The host's read path
 * ---------------------------------------------------------------------- */

/*
 * Append bytes[0..len) to the default session's input, as one TCP read,
 * and serve every complete message the way the host's read path does:
 * decode at the start of the unconsumed bytes, hand the payload to
 * on_message, advance by decode's return, and stop at NK_ENEEDMORE, keeping
 * the rest for the next read.  A message whose announced need passes
 * max_message is refused at once, before its payload is buffered.
 *
 * Stops after a message whose on_message called close.  Returns the number
 * of messages served, or the first failure: a decode error, NK_EFRAMETOOBIG
 * for a refused message, or on_message's return.
 */
static inline long
fake_host_feed(struct fake_host *fh, const uint8_t *bytes, size_t len)
{
    struct nk_session *s = &fh->session;
    size_t start = 0;
    long served = 0;

    if (s->in_len + len > s->in_cap) {
        size_t cap = s->in_len + len;
        uint8_t *in = realloc(s->in, cap);

        assert_non_null(in);
        s->in = in;
        s->in_cap = cap;
    }
    if (len > 0)
        memcpy(s->in + s->in_len, bytes, len);
    s->in_len += len;

    while (start < s->in_len) {
        struct nk_frame fr;
        long took;
        int rc;

        memset(&fr, 0, sizeof(fr));
        took =
            fh->plugin->decode(fh->inst, s->in + start, s->in_len - start, &fr);
        if (took == NK_ENEEDMORE) {
            if (fr.need > fh->max_message ||
                (fr.need == 0 && s->in_len - start >= fh->max_message))
                return NK_EFRAMETOOBIG;
            break;
        }
        if (took < 0)
            return took;
        /* decode must consume something, and nothing it was not given. */
        assert_in_range(took, 1, s->in_len - start);
        assert_true(fr.payload >= s->in + start);
        assert_true(fr.payload + fr.payload_len <= s->in + start + took);
        rc = fh->plugin->on_message(fh->inst, s, fr.payload, fr.payload_len);
        if (rc < 0)
            return rc;
        start += (size_t)took;
        served++;
        if (s->closes > 0) /* no on_message follows a close */
            break;
    }
    /* Keep the unconsumed tail at the front, as the host compacts. */
    if (start > 0)
        memmove(s->in, s->in + start, s->in_len - start);
    s->in_len -= start;
    return served;
}

/* ------------------------------------------------------------------------
 * Test harness glue
 * ---------------------------------------------------------------------- */

/*
 * A cmocka setup: a fake host around plugin p with one instance created
 * from the defaults plus the "name=value" overrides given as the test's
 * prestate (NULL for none).
 */
static inline int
fake_setup(void **state, const struct nk_plugin *p, unsigned transport)
{
    const char *const *overrides = *state;
    struct fake_host *fh = calloc(1, sizeof(*fh));

    if (fh == NULL)
        return -1;
    fake_host_init(fh, p);
    if (fake_host_create(fh, overrides, transport) != 0) {
        fprintf(stderr, "fake_host: create failed: %s\n", fh->err);
        fake_host_fini(fh);
        free(fh);
        return -1;
    }
    *state = fh;
    return 0;
}

/* The matching cmocka teardown. */
static inline int
fake_teardown(void **state)
{
    struct fake_host *fh = *state;

    fake_host_fini(fh);
    free(fh);
    return 0;
}

/* Parse the test runner's arguments: `-t PATTERN` runs matching tests. */
static inline void
fake_test_args(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "-t") == 0)
        cmocka_set_test_filter(argv[2]);
}

#endif /* NK_TEST_FAKE_HOST_H */
