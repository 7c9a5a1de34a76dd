/* addr.c -- resolving and printing addresses.  See addr.h. */
#include "base/addr.h"
#include "base/unixaddr.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
nk__addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        char ifname[IF_NAMESIZE];

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            /* A dual-stack socket's IPv4 peer: print it as IPv4. */
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
            snprintf(buf, size, "%s:%u", host, ntohs(in6->sin6_port));
            return;
        }
        inet_ntop(AF_INET6, &in6->sin6_addr, host, INET6_ADDRSTRLEN);
        if (in6->sin6_scope_id != 0) {
            size_t len = strlen(host);
            if (if_indextoname(in6->sin6_scope_id, ifname) != NULL)
                snprintf(host + len, sizeof(host) - len, "%%%s", ifname);
            else
                snprintf(host + len, sizeof(host) - len, "%%%u",
                         in6->sin6_scope_id);
        }
        snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        nk__unix_format(sa, buf, size);
    } else {
        snprintf(buf, size, "?");
    }
}

int
nk__addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

int
nk__addr_parse_port(const char *s, int allow_zero)
{
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 65535 || (v == 0 && !allow_zero))
        return -1;
    return (int)v;
}

int
nk__addr_resolve(const char *host, int port, int family, int socktype,
                 int passive, struct addrinfo **out, struct nk_err *err)
{
    struct addrinfo hints;
    char name[NI_MAXHOST], service[8];
    size_t len = strlen(host);
    int rc;

    /* "[::1]" -> "::1": brackets are how a user separates a v6 literal. */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        if (len - 2 >= sizeof(name))
            return nk__err_set(err, "host '%s' is too long", host);
        memcpy(name, host + 1, len - 2);
        name[len - 2] = '\0';
    } else {
        if (len >= sizeof(name))
            return nk__err_set(err, "host '%s' is too long", host);
        memcpy(name, host, len + 1);
    }
    snprintf(service, sizeof(service), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    if (!passive)
        hints.ai_flags |= AI_ADDRCONFIG;
    rc = getaddrinfo(name, service, &hints, out);
    if (rc == EAI_ADDRFAMILY || rc == EAI_NODATA ||
        (rc == EAI_NONAME && family != AF_UNSPEC)) {
        /* Some resolvers say "no such name" when only the family is off. */
        struct addrinfo *any;
        hints.ai_family = AF_UNSPEC;
        if (getaddrinfo(name, service, &hints, &any) == 0) {
            freeaddrinfo(any);
            return nk__err_run(err, "'%s' has no %s address", host,
                               family == AF_INET ? "IPv4" : "IPv6");
        }
    }
    if (rc != 0)
        return nk__err_run(err, "cannot resolve '%s': %s", host,
                           rc == EAI_SYSTEM ? strerror(errno)
                                            : gai_strerror(rc));
    return 0;
}

const char *
nk__addr_split(const char *where, char *host, size_t size, int *port)
{
    const char *colon, *h = where;
    size_t hlen;

    if (*where == '[') {
        const char *end = strchr(where, ']');
        if (end == NULL || end[1] != ':')
            return "expected [ADDRESS]:PORT";
        h = where + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(where, ':');
        if (colon == NULL || strchr(where, ':') != colon)
            return "expected HOST:PORT (an IPv6 address in brackets: "
                   "[::1]:9100)";
        hlen = (size_t)(colon - where);
    }
    if (hlen == 0)
        return "missing host (127.0.0.1:9100 listens on loopback only)";
    if (hlen >= size)
        return "host too long";
    if ((*port = nk__addr_parse_port(colon + 1, 1)) < 0)
        return "port: expected 0..65535";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return NULL;
}
