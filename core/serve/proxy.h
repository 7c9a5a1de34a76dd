/*
 * proxy.h -- the PROXY protocol, versions 1 and 2 (HAProxy's
 * doc/proxy-protocol.txt): parsing the header a load balancer puts before a
 * connection's first byte, and building one.
 *
 * Parsing is incremental: call nk__proxy_parse with everything received so
 * far; it asks for more bytes, says how many bytes the header took and
 * what addresses it carries, or says why the bytes are not a header.  The
 * limits are the specification's: a version 1 line must end (CRLF) within
 * 107 bytes; a version 2 header is exactly 16 bytes plus the length it
 * announces, so at most 16 + 65535.  Version 2's LOCAL command, version 1's
 * UNKNOWN, and version 2's unspecified or AF_UNIX families carry no usable
 * address: the header is consumed and `local` says to keep the
 * connection's own addresses.  Version 2 TLVs are checked to fit the
 * header and skipped.
 */
#ifndef NK_CORE_PROXY_H
#define NK_CORE_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* proxy_protocol = off | v1 | v2 | any (the order of the config choices) */
enum nk__proxy_mode { NK_PROXY_OFF, NK_PROXY_V1, NK_PROXY_V2, NK_PROXY_ANY };

#define NK_PROXY_V1_MAX 107          /* the longest v1 line, CRLF included */
#define NK_PROXY_V2_MAX (16 + 65535) /* the longest v2 header */
#define NK_PROXY_V2_SIG "\r\n\r\n\0\r\nQUIT\n"

struct nk__proxy_hdr {
    int version;  /* 1 or 2 */
    int local;    /* 1: no address given, keep the connection's own */
    int socktype; /* SOCK_STREAM or SOCK_DGRAM when addresses are given */
    struct sockaddr_storage src, dst; /* the client, the address it reached */
    socklen_t srclen, dstlen;
    const char *why; /* on -1: what is wrong, a short phrase */
};

/*
 * Look for a header of the versions `mode` allows at the start of buf.
 * Returns the header's length (> 0) with h filled, 0 when buf is a valid
 * beginning that needs more bytes, or -1 with h->why when it cannot be a
 * valid header (the connection should be closed).
 */
long nk__proxy_parse(const uint8_t *buf, size_t len, int mode,
                     struct nk__proxy_hdr *h);

/*
 * Write a header for a connection from src to dst (AF_INET or AF_INET6; a
 * v4-mapped address counts as IPv4, and an IPv4 address is mapped when the
 * other one is IPv6).  src or dst NULL: version 1's UNKNOWN, version 2's
 * LOCAL.  Returns the length, or -1 if buf is too small or a family is
 * not IPv4/IPv6.  NK_PROXY_V1_MAX + 1 bytes always hold a version 1
 * header, 16 + 36 a version 2 one.  socktype (v2): SOCK_STREAM or
 * SOCK_DGRAM.
 */
int nk__proxy_build_v1(const struct sockaddr *src, const struct sockaddr *dst,
                       char *buf, size_t size);
int nk__proxy_build_v2(const struct sockaddr *src, const struct sockaddr *dst,
                       int socktype, uint8_t *buf, size_t size);

#endif /* NK_CORE_PROXY_H */
