/*
 * target.c -- connect's HOST PORT in the forms nc users type.  See target.h.
 */
#include "connect/target.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/unixaddr.h"

int
nk__target_port(const char *arg, int udp)
{
    int port = nk__addr_parse_port(arg, 0);
    struct servent *se;

    if (port > 0 || arg == NULL || *arg == '\0' || (*arg >= '0' && *arg <= '9'))
        return port;
    se = getservbyname(arg, udp ? "udp" : "tcp");
    endservent();
    return se != NULL ? ntohs((uint16_t)se->s_port) : -1;
}

static int
target_port_err(const char *arg, struct nk_err *err)
{
    if (arg[0] >= '0' && arg[0] <= '9')
        return nk__err_set(err, "port '%s': expected 1..65535", arg);
    return nk__err_set(err,
                       "port '%s': expected 1..65535 or a service name "
                       "of /etc/services (http, echo)",
                       arg);
}

static int
target_set(const char *host, size_t hlen, int port, char **h, char **p,
           struct nk_err *err)
{
    char num[16]; /* a port, but the compiler counts an int */

    snprintf(num, sizeof(num), "%d", port);
    *h = nk__malloc(hlen + 1);
    *p = nk__strdup(num);
    if (*h == NULL || *p == NULL)
        return nk__err_set(err, "out of memory");
    memcpy(*h, host, hlen);
    (*h)[hlen] = '\0';
    return 0;
}

/* One argument: PORT (localhost), HOST:PORT or [V6]:PORT. */
static int
target_one(const char *arg, int udp, char **host, char **port,
           struct nk_err *err)
{
    const char *colon, *h = arg;
    size_t hlen;
    int n;

    if (arg[0] >= '0' && arg[0] <= '9' && strchr(arg, ':') == NULL &&
        strchr(arg, '.') == NULL) {
        if ((n = nk__target_port(arg, udp)) < 0)
            return target_port_err(arg, err);
        return target_set("localhost", 9, n, host, port, err);
    }
    if (arg[0] == '[') {
        const char *end = strchr(arg, ']');

        if (end == NULL || end[1] != ':')
            return nk__err_set(err, "'%s': expected [ADDRESS]:PORT", arg);
        h = arg + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL)
            return nk__err_set(err, "connect needs HOST PORT, HOST:PORT or "
                                    "PORT (see 'netkit connect --help')");
        if (strchr(arg, ':') != colon)
            return nk__err_set(err,
                               "'%s': an IPv6 address with a port goes "
                               "in brackets ([::1]:9999) or before it "
                               "(::1 9999)",
                               arg);
        hlen = (size_t)(colon - arg);
    }
    if (hlen == 0)
        return nk__err_set(err, "'%s': missing host", arg);
    if ((n = nk__target_port(colon + 1, udp)) < 0)
        return target_port_err(colon + 1, err);
    return target_set(h, hlen, n, host, port, err);
}

int
nk__target_parse(int argc, char **argv, int udp, char **host, char **port,
                 struct nk_err *err)
{
    int n;

    nk__free(*host);
    nk__free(*port);
    *host = *port = NULL;
    if (argc == 2 && nk__unix_is(argv[0]))
        return nk__err_set(err, "'%s' is a unix socket: it takes no PORT",
                           argv[0]);
    if (argc == 1 && nk__unix_is(argv[0])) {
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why = nk__unix_parse(argv[0], &ss, &len);

        if (why != NULL)
            return nk__err_set(err, "'%s': %s", argv[0], why);
        *host = nk__strdup(argv[0]);
        return *host == NULL ? nk__err_set(err, "out of memory") : 0;
    }
    if (argc == 1)
        return target_one(argv[0], udp, host, port, err);
    if (argc != 2) {
        /* nc's `-q 1` or `-w 3`: here -q takes no value (it is --quiet),
         * so its number became an argument. */
        if (argc == 3 && argv[0][0] >= '0' && argv[0][0] <= '9')
            return nk__err_set(err,
                               "connect needs HOST PORT, got '%s %s %s' "
                               "(-q is --quiet here and takes no value: "
                               "the client ends by itself after the last "
                               "reply; nc's -w is --timeout)",
                               argv[0], argv[1], argv[2]);
        return nk__err_set(err, "connect needs HOST PORT (see 'netkit "
                                "connect --help')");
    }
    if ((n = nk__target_port(argv[1], udp)) < 0)
        return target_port_err(argv[1], err);
    return target_set(argv[0], strlen(argv[0]), n, host, port, err);
}
