/* proxy.c -- the PROXY protocol header, v1 and v2.  See proxy.h. */
#include "serve/proxy.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define V2_HEAD    16
#define V2_SIG_LEN 12

static const uint8_t proxy_v2sig[V2_SIG_LEN] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char proxy_v1sig[] = "PROXY ";

static long
proxy_fail(struct nk__proxy_hdr *h, const char *why)
{
    h->why = why;
    return -1;
}

static size_t
proxy_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- version 1 --------------------------------------------------------- */

/* A decimal number 0..max with no leading zero, the whole of s. */
static int
proxy_v1_number(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* A dotted-quad IPv4 address, each part 0..255 without a leading zero. */
static int
proxy_v1_ipv4(const char *s, size_t n, struct in_addr *out)
{
    uint8_t b[4];
    size_t start = 0;
    int part = 0;

    for (size_t i = 0; i <= n; i++) {
        unsigned long v;
        if (i < n && s[i] != '.')
            continue;
        if (part == 4 || proxy_v1_number(s + start, i - start, 255, &v) < 0 ||
            i - start > 3)
            return -1;
        b[part++] = (uint8_t)v;
        start = i + 1;
    }
    if (part != 4)
        return -1;
    memcpy(out, b, 4);
    return 0;
}

static int
proxy_v1_addr(int family, const char *s, size_t n, struct sockaddr_storage *ss,
              socklen_t *len)
{
    char text[INET6_ADDRSTRLEN];

    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        *len = sizeof(*in);
        return proxy_v1_ipv4(s, n, &in->sin_addr);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (n == 0 || n >= sizeof(text) || memchr(s, '%', n) != NULL)
        return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    in6->sin6_family = AF_INET6;
    *len = sizeof(*in6);
    return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
}

static void
proxy_set_port(struct sockaddr_storage *ss, unsigned long port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* "PROXY TCP4 SRC DST SPORT DPORT" (line holds no CRLF), fields split by
 * exactly one space. */
static long
proxy_v1_line(const char *line, size_t n, struct nk__proxy_hdr *h)
{
    const char *field[6];
    size_t flen[6], nf = 0, start = 0;
    unsigned long sport, dport;
    int family;

    if (n >= 13 && memcmp(line, "PROXY UNKNOWN", 13) == 0 &&
        (n == 13 || line[13] == ' ')) {
        h->local = 1; /* anything after UNKNOWN is ignored */
        return 0;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ' ')
            continue;
        if (i == start)
            return proxy_fail(h, "empty field (two spaces, or a space at the "
                                 "end)");
        if (nf == 6)
            return proxy_fail(h, "too many fields");
        field[nf] = line + start;
        flen[nf++] = i - start;
        start = i + 1;
    }
    if (flen[1] == 4 && memcmp(field[1], "TCP4", 4) == 0)
        family = AF_INET;
    else if (flen[1] == 4 && memcmp(field[1], "TCP6", 4) == 0)
        family = AF_INET6;
    else
        return proxy_fail(h, "unknown protocol (expected TCP4, TCP6 or "
                             "UNKNOWN)");
    if (nf != 6)
        return proxy_fail(h, "too few fields");
    if (proxy_v1_addr(family, field[2], flen[2], &h->src, &h->srclen) < 0)
        return proxy_fail(h, family == AF_INET ? "invalid source IPv4 address"
                                               : "invalid source IPv6 address");
    if (proxy_v1_addr(family, field[3], flen[3], &h->dst, &h->dstlen) < 0)
        return proxy_fail(h, family == AF_INET
                                 ? "invalid destination IPv4 address"
                                 : "invalid destination IPv6 address");
    if (proxy_v1_number(field[4], flen[4], 65535, &sport) < 0)
        return proxy_fail(h, "invalid source port");
    if (proxy_v1_number(field[5], flen[5], 65535, &dport) < 0)
        return proxy_fail(h, "invalid destination port");
    proxy_set_port(&h->src, sport);
    proxy_set_port(&h->dst, dport);
    h->socktype = SOCK_STREAM;
    return 0;
}

static long
proxy_v1(const uint8_t *buf, size_t len, struct nk__proxy_hdr *h)
{
    size_t n = proxy_min(len, NK_PROXY_V1_MAX);

    /* Refuse as soon as a byte shows it is not a line: no waiting for the
     * CRLF behind a binary or over-long prefix. */
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == NK_PROXY_V1_MAX)
                break; /* its LF would be byte 108 */
            if (i + 1 == len)
                return 0;
            if (buf[i + 1] != '\n')
                return proxy_fail(h, "CR without LF");
            h->version = 1;
            if (proxy_v1_line((const char *)buf, i, h) < 0)
                return -1;
            return (long)(i + 2);
        }
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            return proxy_fail(h, buf[i] == '\n' ? "LF without CR"
                                                : "a byte that is not "
                                                  "printable ASCII");
    }
    if (len >= NK_PROXY_V1_MAX)
        return proxy_fail(h, "no CRLF in the first 107 bytes");
    return 0;
}

/* ---- version 2 --------------------------------------------------------- */

/* The version/command and family bytes, checked as soon as they arrive. */
static long
proxy_v2_check(const uint8_t *buf, size_t len, struct nk__proxy_hdr *h)
{
    if (len > 12 && buf[12] >> 4 != 2)
        return proxy_fail(h, "unsupported version (expected 2)");
    if (len > 12 && (buf[12] & 0x0f) > 1)
        return proxy_fail(h, "unknown command (expected LOCAL or PROXY)");
    /* LOCAL ignores the family byte, whatever it holds. */
    if (len > 13 && (buf[12] & 0x0f) == 1 &&
        ((buf[13] >> 4) > 3 || (buf[13] & 0x0f) > 2))
        return proxy_fail(h, "invalid address family or protocol");
    return 0;
}

/* The TLVs after the addresses: each must fit; none is used. */
static long
proxy_v2_tlvs(const uint8_t *p, size_t n, struct nk__proxy_hdr *h)
{
    while (n > 0) {
        size_t vlen;
        if (n < 3)
            return proxy_fail(h, "truncated TLV");
        vlen = (size_t)p[1] << 8 | p[2];
        if (vlen > n - 3)
            return proxy_fail(h, "TLV longer than the header");
        p += 3 + vlen;
        n -= 3 + vlen;
    }
    return 0;
}

static long
proxy_v2(const uint8_t *buf, size_t len, struct nk__proxy_hdr *h)
{
    size_t alen, total, need;
    int af, proto;

    if (proxy_v2_check(buf, len, h) < 0)
        return -1;
    if (len < V2_HEAD)
        return 0;
    alen = (size_t)buf[14] << 8 | buf[15];
    total = V2_HEAD + alen;
    if (len < total)
        return 0;
    h->version = 2;
    af = buf[13] >> 4;
    proto = buf[13] & 0x0f;
    if ((buf[12] & 0x0f) == 0 || af == 0 || af == 3 || proto == 0) {
        /* LOCAL, or a family netkit has no use for: the length was
         * respected, the rest is ignored. */
        h->local = 1;
        return (long)total;
    }
    need = af == 1 ? 12 : 36;
    if (alen < need)
        return proxy_fail(h, af == 1 ? "address block too short for IPv4"
                                     : "address block too short for IPv6");
    memset(&h->src, 0, sizeof(h->src));
    memset(&h->dst, 0, sizeof(h->dst));
    if (af == 1) {
        struct sockaddr_in *s = (struct sockaddr_in *)&h->src,
                           *d = (struct sockaddr_in *)&h->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, buf + 16, 4);
        memcpy(&d->sin_addr, buf + 20, 4);
        memcpy(&s->sin_port, buf + 24, 2);
        memcpy(&d->sin_port, buf + 26, 2);
        h->srclen = h->dstlen = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src,
                            *d = (struct sockaddr_in6 *)&h->dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, buf + 16, 16);
        memcpy(&d->sin6_addr, buf + 32, 16);
        memcpy(&s->sin6_port, buf + 48, 2);
        memcpy(&d->sin6_port, buf + 50, 2);
        h->srclen = h->dstlen = sizeof(*s);
    }
    h->socktype = proto == 1 ? SOCK_STREAM : SOCK_DGRAM;
    if (proxy_v2_tlvs(buf + V2_HEAD + need, alen - need, h) < 0)
        return -1;
    return (long)total;
}

/* ---- either ------------------------------------------------------------ */

long
nk__proxy_parse(const uint8_t *buf, size_t len, int mode,
                struct nk__proxy_hdr *h)
{
    int v1 = mode == NK_PROXY_V1 || mode == NK_PROXY_ANY;
    int v2 = mode == NK_PROXY_V2 || mode == NK_PROXY_ANY;
    int is_v1, is_v2;

    memset(h, 0, sizeof(*h));
    if (len == 0)
        return 0;
    is_v1 = memcmp(buf, proxy_v1sig, proxy_min(len, 6)) == 0;
    is_v2 = memcmp(buf, proxy_v2sig, proxy_min(len, V2_SIG_LEN)) == 0;
    if (v2 && is_v2)
        return proxy_v2(buf, len, h);
    if (v1 && is_v1)
        return proxy_v1(buf, len, h);
    if (is_v1)
        return proxy_fail(h, "a version 1 header where only version 2 is "
                             "accepted");
    if (is_v2)
        return proxy_fail(h, "a version 2 header where only version 1 is "
                             "accepted");
    return proxy_fail(h, "no PROXY protocol header");
}

/* ---- building ---------------------------------------------------------- */

/* The address as 16 bytes of IPv6 (IPv4 mapped) and a port; returns 4 or 6
 * for the family it really is, 0 for another family. */
static int
proxy_addr16(const struct sockaddr *sa, uint8_t a[16], uint16_t *port)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(a, mapped, 12);
        memcpy(a + 12, &in->sin_addr, 4);
        *port = in->sin_port;
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(a, &in6->sin6_addr, 16);
        *port = in6->sin6_port;
        return memcmp(a, mapped, 12) == 0 ? 4 : 6;
    }
    return 0;
}

int
nk__proxy_build_v1(const struct sockaddr *src, const struct sockaddr *dst,
                   char *buf, size_t size)
{
    uint8_t s[16], d[16];
    uint16_t sp, dp;
    char st[INET6_ADDRSTRLEN], dt[INET6_ADDRSTRLEN];
    int sf, df, v4, n;

    if (src == NULL || dst == NULL) {
        n = snprintf(buf, size, "PROXY UNKNOWN\r\n");
        return n < 0 || (size_t)n >= size ? -1 : n;
    }
    sf = proxy_addr16(src, s, &sp);
    df = proxy_addr16(dst, d, &dp);
    if (sf == 0 || df == 0)
        return -1;
    v4 = sf == 4 && df == 4;
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? s + 12 : s, st, sizeof(st));
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? d + 12 : d, dt, sizeof(dt));
    n = snprintf(buf, size, "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6",
                 st, dt, ntohs(sp), ntohs(dp));
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int
nk__proxy_build_v2(const struct sockaddr *src, const struct sockaddr *dst,
                   int socktype, uint8_t *buf, size_t size)
{
    uint8_t s[16], d[16];
    uint16_t sp, dp;
    int sf, df, v4;
    size_t alen;

    if (size < V2_HEAD)
        return -1;
    memcpy(buf, proxy_v2sig, V2_SIG_LEN);
    if (src == NULL || dst == NULL) {
        buf[12] = 0x20; /* version 2, LOCAL */
        buf[13] = 0x00; /* unspecified */
        buf[14] = buf[15] = 0;
        return V2_HEAD;
    }
    sf = proxy_addr16(src, s, &sp);
    df = proxy_addr16(dst, d, &dp);
    if (sf == 0 || df == 0 ||
        (socktype != SOCK_STREAM && socktype != SOCK_DGRAM))
        return -1;
    v4 = sf == 4 && df == 4;
    alen = v4 ? 12 : 36;
    if (size < V2_HEAD + alen)
        return -1;
    buf[12] = 0x21; /* version 2, PROXY */
    buf[13] = (uint8_t)((v4 ? 0x10 : 0x20) | (socktype == SOCK_STREAM ? 1 : 2));
    buf[14] = 0;
    buf[15] = (uint8_t)alen;
    if (v4) {
        memcpy(buf + 16, s + 12, 4);
        memcpy(buf + 20, d + 12, 4);
        memcpy(buf + 24, &sp, 2);
        memcpy(buf + 26, &dp, 2);
    } else {
        memcpy(buf + 16, s, 16);
        memcpy(buf + 32, d, 16);
        memcpy(buf + 48, &sp, 2);
        memcpy(buf + 50, &dp, 2);
    }
    return (int)(V2_HEAD + alen);
}
