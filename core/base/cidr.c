/* cidr.c -- address ranges and access rules.  See cidr.h. */
#include "base/cidr.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static _Thread_local char cidr_msg[160];

static const char cidr_enomem[] = "out of memory";

static const char *cidr_why(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const char *
cidr_why(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cidr_msg, sizeof(cidr_msg), fmt, ap);
    va_end(ap);
    return cidr_msg;
}

static const uint8_t cidr_v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};

const char *
nk__cidr_parse(const char *s, struct nk__cidr *out)
{
    char host[INET6_ADDRSTRLEN + 1], *end;
    const char *orig = s, *slash = strchr(s, '/');
    size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    unsigned max;
    long prefix;

    memset(out, 0, sizeof(*out));
    if (strcmp(s, "all") == 0) {
        out->family = AF_UNSPEC;
        return NULL;
    }
    if (*s == '\0')
        return "empty address";
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        s++; /* "[::1]/128": brackets as around any IPv6 literal */
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return cidr_why("invalid address '%s'", s);
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return cidr_why("invalid address '%s'", host);
    }
    out->prefix = max;
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9')
            return cidr_why("invalid prefix length '/%s'", slash + 1);
        prefix = strtol(slash + 1, &end, 10);
        if (*end != '\0' || (slash[1] == '0' && slash[2] != '\0'))
            return cidr_why("invalid prefix length '/%s'", slash + 1);
        if (prefix > (long)max) {
            return cidr_why("prefix /%ld is longer than %u bits", prefix, max);
        }
        out->prefix = (unsigned)prefix;
    }
    for (unsigned bit = out->prefix; bit < max; bit++)
        if (out->addr[bit / 8] & (0x80u >> (bit % 8))) {
            char canon[NK_CIDRSTRLEN];
            struct nk__cidr fixed = *out;
            for (unsigned b = out->prefix; b < max; b++)
                fixed.addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
            nk__cidr_format(&fixed, canon, sizeof(canon));
            return cidr_why("'%s' has bits set past the prefix (did you "
                            "mean %s?)",
                            orig, canon);
        }
    /* ::ffff:a.b.c.d/N (N >= 96) is an IPv4 range. */
    if (out->family == AF_INET6 && out->prefix >= 96 &&
        memcmp(out->addr, cidr_v4mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    return NULL;
}

int
nk__cidr_match(const struct nk__cidr *c, const struct sockaddr *sa)
{
    const uint8_t *a;
    int family = sa->sa_family;

    if (family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, cidr_v4mapped, 12) == 0) {
            a += 12;
            family = AF_INET;
        }
    } else {
        return 0;
    }
    if (c->family == AF_UNSPEC)
        return 1;
    if (c->family != family)
        return 0;
    if (memcmp(a, c->addr, c->prefix / 8) != 0)
        return 0;
    if (c->prefix % 8 != 0) {
        uint8_t mask = (uint8_t)(0xff00u >> (c->prefix % 8));
        return (a[c->prefix / 8] & mask) == c->addr[c->prefix / 8];
    }
    return 1;
}

void
nk__cidr_format(const struct nk__cidr *c, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (c->family == AF_UNSPEC) {
        snprintf(buf, size, "all");
        return;
    }
    inet_ntop(c->family, c->addr, host, sizeof(host));
    snprintf(buf, size, "%s/%u", host, c->prefix);
}

/* Call fn for each blank-separated item of s; stops at the first phrase. */
static const char *
cidr_each(const char *s, const char *(*fn)(void *ctx, const char *item),
          void *ctx)
{
    char item[128];
    int any = 0;

    for (;;) {
        size_t n;
        const char *why;

        s += strspn(s, " \t");
        if (*s == '\0')
            break;
        n = strcspn(s, " \t");
        if (n >= sizeof(item))
            return cidr_why("invalid address '%.60s...'", s);
        memcpy(item, s, n);
        item[n] = '\0';
        if ((why = fn(ctx, item)) != NULL)
            return why;
        s += n;
        any = 1;
    }
    return any ? NULL : "empty value";
}

static const char *
cidr_list_one(void *ctx, const char *item)
{
    struct nk__cidr_list *l = ctx;
    struct nk__cidr c, *grown;
    const char *why = nk__cidr_parse(item, &c);

    if (why != NULL)
        return why;
    grown = nk__realloc(l->items, (l->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return cidr_enomem;
    grown[l->n++] = c;
    l->items = grown;
    return NULL;
}

const char *
nk__cidr_list_parse(struct nk__cidr_list *l, const char *s)
{
    return cidr_each(s, cidr_list_one, l);
}

int
nk__cidr_list_match(const struct nk__cidr_list *l, const struct sockaddr *sa)
{
    for (size_t i = 0; i < l->n; i++)
        if (nk__cidr_match(&l->items[i], sa))
            return 1;
    return 0;
}

int
nk__cidr_list_append(struct nk__cidr_list *dst, const struct nk__cidr_list *src)
{
    struct nk__cidr *grown;

    if (src->n == 0)
        return 0;
    grown = nk__realloc(dst->items, (dst->n + src->n) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    memcpy(grown + dst->n, src->items, src->n * sizeof(*grown));
    dst->items = grown;
    dst->n += src->n;
    return 0;
}

void
nk__cidr_list_free(struct nk__cidr_list *l)
{
    nk__free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- access rules ------------------------------------------------------- */

struct acl_ctx {
    struct nk__acl *acl;
    int allow;
    const char *file;
    int line;
};

static const char *
acl_one(void *ctx, const char *item)
{
    struct acl_ctx *a = ctx;
    struct nk__acl_rule r = {.allow = a->allow,
                             .file = a->file,
                             .line = a->line},
                        *grown;
    const char *why = nk__cidr_parse(item, &r.cidr);

    if (why != NULL)
        return why;
    grown = nk__realloc(a->acl->items, (a->acl->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return cidr_enomem;
    grown[a->acl->n++] = r;
    a->acl->items = grown;
    return NULL;
}

const char *
nk__acl_parse(struct nk__acl *acl, int allow, const char *s, const char *file,
              int line)
{
    struct acl_ctx a = {acl, allow, file, line};

    return cidr_each(s, acl_one, &a);
}

const struct nk__acl_rule *
nk__acl_find(const struct nk__acl *acl, const struct sockaddr *sa)
{
    for (size_t i = 0; i < acl->n; i++)
        if (nk__cidr_match(&acl->items[i].cidr, sa))
            return &acl->items[i];
    return NULL;
}

int
nk__acl_prepend(struct nk__acl *dst, const struct nk__acl *src)
{
    struct nk__acl_rule *grown;

    if (src->n == 0)
        return 0;
    grown = nk__realloc(dst->items, (dst->n + src->n) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    memmove(grown + src->n, grown, dst->n * sizeof(*grown));
    memcpy(grown, src->items, src->n * sizeof(*grown));
    dst->items = grown;
    dst->n += src->n;
    return 0;
}

void
nk__acl_free(struct nk__acl *acl)
{
    nk__free(acl->items);
    acl->items = NULL;
    acl->n = 0;
}
