/*
 * hints.c -- nc habits and protocol guesses.  See hints.h.
 */
#include "connect/hints.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int opt;
    const char *connect, *serve;
} hints_nc[] = {
    {'l',
     "did you mean netkit serve -P PORT? Or connect --listen PORT, to "
     "print one connection's bytes",
     "serve always listens: the port is -P PORT"},
    {'k',
     "did you mean netkit serve -P PORT? It keeps serving, as nc -k "
     "does",
     "serve keeps serving after a client leaves, as nc -k does: drop -k"},
    {'w', "nc's -w SECONDS is --timeout SECONDS here", NULL},
    {'q',
     "-q is --quiet here; nc's -q SECONDS is not needed: the client "
     "ends by itself after the last reply (and --stream when the "
     "server closes)",
     NULL},
    {'n',
     "-n counts -m's sends here; nc's -n (numeric addresses) is not "
     "needed",
     NULL},
    {'c',
     "-c is the config file here; ncat's -c (run a command) has no "
     "equivalent: pipe into netkit connect instead",
     NULL},
    {'e',
     "nc's -e (run a program) has no equivalent: pipe into netkit "
     "connect instead",
     "a program behind a port is a plugin: see netkit plugins"},
    {'N', "--stream half-closes at end of input, as nc -N does", NULL},
    {'U', "a unix socket is given as unix:/PATH", NULL},
};

const char *
nk__hint_nc_option(int connect, int opt)
{
    for (size_t i = 0; i < sizeof(hints_nc) / sizeof(hints_nc[0]); i++)
        if (hints_nc[i].opt == opt)
            return connect ? hints_nc[i].connect : hints_nc[i].serve;
    return NULL;
}

const char *
nk__hint_port_as_plugin(int connect, const char *arg, char *buf, size_t size)
{
    size_t n = strspn(arg, "0123456789");

    if (n == 0 || arg[n] != '\0' || n > 5)
        return NULL;
    if (connect)
        snprintf(buf, size,
                 "-p names the protocol plugin; the port is positional: "
                 "netkit connect HOST %s",
                 arg);
    else
        snprintf(buf, size, "-p names the protocol plugin; did you mean -P %s?",
                 arg);
    return buf;
}

/* A little-endian or big-endian length of `width` bytes in front of
 * exactly the rest of the bytes, or of more than came so far. */
static int
hints_length_field(const uint8_t *p, size_t n, size_t width, int exact)
{
    unsigned long le = 0, be = 0;

    if (n <= width)
        return 0;
    for (size_t i = 0; i < width; i++) {
        le |= (unsigned long)p[i] << (8 * i);
        be = be << 8 | p[i];
    }
    if (exact)
        return le == n - width || be == n - width;
    return (le > 0 && le <= 1 << 20 && le >= n - width) ||
           (be > 0 && be <= 1 << 20 && be >= n - width);
}

/* Printable text (UTF-8 left alone) ending in a newline. */
static int
hints_is_line(const uint8_t *p, size_t n)
{
    if (n == 0 || p[n - 1] != '\n')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return 0;
    return 1;
}

const char *
nk__hint_first(const char *proto, const uint8_t *p, size_t n)
{
    if (strcmp(proto, "raw") != 0)
        return NULL;
    if (hints_length_field(p, n, 4, 1) || hints_length_field(p, n, 2, 1))
        return "it starts with what looks like a length field of the rest: "
               "try -p framed";
    return NULL;
}

const char *
nk__hint_reply(const char *proto, const uint8_t *p, size_t n, int closed)
{
    int framed = strcmp(proto, "framed") == 0;
    int line = strcmp(proto, "line") == 0;

    if (n == 0 && closed && line)
        return "a framed server closes on a length field it cannot take: "
               "try -p framed";
    if (n == 0 && closed && !framed)
        return "a framed server closes on a length field it cannot take: "
               "try -p framed; a line server: -p line";
    if (n == 0) {
        if (framed)
            return "if the server speaks lines or bytes, try -p line or "
                   "-p raw";
        if (line)
            return "if the server wants a length field first, try -p "
                   "framed; a byte stream, --stream";
        return "a line server waits for a newline: try -p line; a length "
               "field first: -p framed; a byte stream: --stream";
    }
    if (!framed &&
        (hints_length_field(p, n, 4, 0) || hints_length_field(p, n, 2, 0)))
        return "the reply starts with what looks like a length field: try "
               "-p framed";
    if (!line && hints_is_line(p, n))
        return "the reply is a text line: try -p line, or --stream";
    if (framed)
        return "the reply has no length field this codec takes: try -p "
               "line, -p raw or --stream";
    return NULL;
}

void
nk__hint_add(struct nk_err *err, const char *hint)
{
    size_t len = strlen(err->msg);

    if (hint != NULL && len < sizeof(err->msg))
        snprintf(err->msg + len, sizeof(err->msg) - len, " (%s)", hint);
}
