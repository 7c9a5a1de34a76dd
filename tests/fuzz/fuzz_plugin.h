/*
 * fuzz_plugin.h -- a minimal host for fuzzing one plugin compiled into the
 * harness: the plugin's options are parsed by the core's own parser
 * (nk__parse_option, as `-O` and [plugin.NAME] are), create() runs as the
 * host runs it, and send() checks what the plugin hands over and asks its
 * encode for the head and tail, as the host does.  Any broken invariant
 * aborts, which libFuzzer reports as a crash with its input.
 */
#ifndef NK_FUZZ_PLUGIN_H
#define NK_FUZZ_PLUGIN_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

#include "base/alloc.h"
#include "config/value.h"
#include "plugin/contract.h"
#include "plugin/session.h"

#define FZ_OPTS_MAX 16

/* The plugin compiled into this harness. */
const struct nk_plugin *nk_plugin_entry(void);

#include "fuzz_check.h"

struct fz_host {
    const struct nk_plugin *p;
    void *inst;
    size_t max_message;
    unsigned long long sent, closes;
};

static struct fz_host fz;

/* Touch every byte handed over, so ASan sees a bad pointer or length. */
static unsigned
fz_touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    unsigned sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += b[i];
    return sum;
}

static int
fz_send(struct nk_session *s, const struct iovec *iov, int iovcnt)
{
    struct nk_wrap w;
    size_t total = 0;
    int rc;

    FZ_CHECK(s != NULL);
    FZ_CHECK(iovcnt >= 0 && iovcnt <= NK_SEND_IOV_MAX);
    for (int i = 0; i < iovcnt; i++) {
        FZ_CHECK(iov[i].iov_len == 0 || iov[i].iov_base != NULL);
        (void)fz_touch(iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    memset(&w, 0, sizeof(w));
    rc = fz.p->encode(fz.inst, total, &w);
    FZ_CHECK(rc == 0 || rc == NK_EMSGSIZE);
    FZ_CHECK(w.head_len <= NK_HDR_MAX && w.tail_len <= NK_HDR_MAX);
    fz.sent++;
    return rc;
}

static void
fz_close(struct nk_session *s)
{
    FZ_CHECK(s != NULL);
    fz.closes++;
}

__attribute__((format(printf, 3, 4))) static void
fz_log(struct nk_session *s, enum nk_log_level level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    (void)s, (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
}

static const char *
fz_peer(struct nk_session *s)
{
    (void)s;
    return "127.0.0.1:5000";
}

static void *
fz_get_data(struct nk_session *s)
{
    return s->data;
}

static void
fz_set_data(struct nk_session *s, void *data)
{
    s->data = data;
}

static const struct nk_host fz_host_table = {
    .size = sizeof(struct nk_host),
    .send = fz_send,
    .close = fz_close,
    .log = fz_log,
    .peer_name = fz_peer,
    .get_data = fz_get_data,
    .set_data = fz_set_data,
};

/* One option override: the row's name and raw value bytes. */
struct fz_opt {
    const char *name;
    const char *val;
    size_t len;
};

/*
 * Create an instance with every default, then the overrides, parsed by the
 * core.  Returns create's result, or NK_EINVAL when the core refuses a
 * value (the host would have stopped at start-up).
 */
static int
fz_create(const struct fz_opt *over, size_t nover, unsigned transport)
{
    const struct nk_option *t;
    struct nk_value v[FZ_OPTS_MAX];
    struct nk_setup su;
    size_t n = 0;
    int rc = 0;

    memset(&fz, 0, sizeof(fz));
    memset(v, 0, sizeof(v));
    fz.p = nk_plugin_entry();
    t = fz.p->options;
    for (; t != NULL && t[n].name != NULL && rc == 0; n++) {
        const char *text = t[n].def != NULL ? t[n].def : "";
        size_t len = strlen(text);

        FZ_CHECK(n < FZ_OPTS_MAX);
        for (size_t k = 0; k < nover; k++)
            if (strcmp(over[k].name, t[n].name) == 0) {
                text = over[k].val;
                len = over[k].len;
            }
        if (nk__parse_option(&t[n], text, len, &v[n]) != NULL)
            rc = NK_EINVAL;
    }
    if (rc == 0) {
        memset(&su, 0, sizeof(su));
        su.size = sizeof(su);
        su.host = &fz_host_table;
        su.opts = v;
        su.transport = transport;
        su.max_message = ((size_t)1 << 20) + 2 * NK_HDR_MAX;
        rc = fz.p->create(&su);
        if (rc == 0) {
            fz.inst = su.inst;
            fz.max_message = su.max_message;
        }
    }
    for (size_t i = 0; i < n; i++)
        nk__free((char *)v[i].str);
    return rc;
}

static void
fz_destroy(void)
{
    if (fz.inst != NULL)
        fz.p->destroy(fz.inst);
    fz.inst = NULL;
}

/*
 * Decode buf[0..len) the way the host's TCP read path does and check every
 * answer: a message lies inside what it consumed, and consumes at most what
 * it was given; NK_ENEEDMORE announces more than it has.  Then serve it.
 * Returns how many bytes were consumed.
 */
static size_t
fz_serve_stream(const uint8_t *buf, size_t len, unsigned transport)
{
    struct nk_session s;
    size_t off = 0;

    memset(&s, 0, sizeof(s));
    s.transport = transport;
    while (off < len) {
        struct nk_frame f;
        long rc;

        memset(&f, 0, sizeof(f));
        rc = fz.p->decode(fz.inst, buf + off, len - off, &f);
        if (rc == NK_ENEEDMORE) {
            FZ_CHECK(f.need == 0 || f.need > len - off);
            break;
        }
        if (rc < 0)
            break; /* a refusal: the host closes the connection */
        /* The host's own rules (plugin/contract.c). */
        FZ_CHECK(nk__decode_check(rc, buf + off, len - off, &f, 1,
                                  fz.max_message) == NULL);
        (void)fz_touch(f.payload, f.payload_len);
        off += (size_t)rc;
        if (fz.p->on_message(fz.inst, &s, f.payload, f.payload_len) < 0)
            break; /* NK_ECLOSE: the host closes after this message */
    }
    if (fz.p->on_close != NULL)
        fz.p->on_close(fz.inst, &s);
    return off;
}

/* One UDP datagram: exactly one message, or dropped. */
static void
fz_serve_datagram(const uint8_t *buf, size_t len)
{
    struct nk_session s;
    struct nk_frame f;
    long rc;

    memset(&s, 0, sizeof(s));
    memset(&f, 0, sizeof(f));
    s.transport = NK_TRANSPORT_UDP;
    rc = fz.p->decode(fz.inst, buf, len, &f);
    FZ_CHECK(rc < 0 || (size_t)rc <= len);
    if (rc >= 0 && (size_t)rc == len) {
        FZ_CHECK(f.payload_len <= len);
        FZ_CHECK(f.payload_len == 0 ||
                 (f.payload >= buf && f.payload + f.payload_len <= buf + len));
        fz.p->on_message(fz.inst, &s, f.payload, f.payload_len);
    }
}

#endif /* NK_FUZZ_PLUGIN_H */
