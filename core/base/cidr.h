/*
 * cidr.h -- address ranges: "10.0.0.0/8", "::1", "2001:db8::/32", "all".
 *
 * A range is an IPv4 or IPv6 prefix.  An address without "/N" is a single
 * host (/32 or /128).  "all" is every address of both families.  IPv4
 * ranges written as v4-mapped IPv6 ("::ffff:10.0.0.0/104") are stored as
 * IPv4, and a v4-mapped peer (an IPv4 client of a dual-stack socket) is
 * matched as IPv4, so one rule covers an IPv4 client however it arrives.
 * Bits set past the prefix length ("10.1.0.0/8") are an error: the range
 * would not be what it says.
 */
#ifndef NK_CORE_CIDR_H
#define NK_CORE_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct nk__cidr {
    int family;      /* AF_INET or AF_INET6; AF_UNSPEC: "all" */
    unsigned prefix; /* 0..32 or 0..128 */
    uint8_t addr[16];
};

/* Parse one range.  Returns NULL, or a phrase saying what is wrong
 * ("invalid address '10.0.0.300'", "prefix /33 is longer than 32"); the
 * phrase lives in a thread-local buffer until the next call. */
const char *nk__cidr_parse(const char *s, struct nk__cidr *out);

/* Does the address (AF_INET or AF_INET6, v4-mapped counting as IPv4) fall
 * in the range?  Other families never match. */
int nk__cidr_match(const struct nk__cidr *c, const struct sockaddr *sa);

/* The range written back in its canonical form ("10.0.0.0/8", "::1/128",
 * "all"), for messages. */
void nk__cidr_format(const struct nk__cidr *c, char *buf, size_t size);

/* Enough for "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128". */
#define NK_CIDRSTRLEN 52

/* A list of ranges, as proxy_trusted holds. */
struct nk__cidr_list {
    struct nk__cidr *items;
    size_t n;
};

/* Parse a space-separated list of ranges onto the end of l.  Returns NULL,
 * a phrase naming the bad item, or "out of memory". */
const char *nk__cidr_list_parse(struct nk__cidr_list *l, const char *s);
int nk__cidr_list_match(const struct nk__cidr_list *l,
                        const struct sockaddr *sa);
/* Copy every range of src onto the end of dst; -1 when out of memory. */
int nk__cidr_list_append(struct nk__cidr_list *dst,
                         const struct nk__cidr_list *src);
void nk__cidr_list_free(struct nk__cidr_list *l);

/*
 * Access rules: allow and deny ranges in the order written.  The first rule
 * whose range holds the address decides; an address no rule holds is
 * allowed (nginx's allow/deny: end with "deny all" to allow only the
 * ranges listed).
 */
struct nk__acl_rule {
    struct nk__cidr cidr;
    int allow;        /* 1 allow, 0 deny */
    const char *file; /* where it was written; NULL: the command line */
    int line;
};

struct nk__acl {
    struct nk__acl_rule *items;
    size_t n;
};

/* Parse a space-separated list of ranges into rules on the end of acl. */
const char *nk__acl_parse(struct nk__acl *acl, int allow, const char *s,
                          const char *file, int line);
/* The rule that decides for the address, or NULL (allowed: no rule). */
const struct nk__acl_rule *nk__acl_find(const struct nk__acl *acl,
                                        const struct sockaddr *sa);
/* Put copies of src's rules in front of dst's; -1 when out of memory. */
int nk__acl_prepend(struct nk__acl *dst, const struct nk__acl *src);
void nk__acl_free(struct nk__acl *acl);

#endif /* NK_CORE_CIDR_H */
