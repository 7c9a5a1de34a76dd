/*
 * settings.h -- everything the command line and the config file decide,
 * gathered in one struct that is passed around (no option globals).
 *
 * Order of precedence: built-in defaults < config file < command line.  The
 * CLI is parsed first (it names the config file), the config is loaded into
 * the same struct, then nk__settings_finish() merges the command-line
 * overrides and checks every combination before any socket opens.
 */
#ifndef NK_CORE_SETTINGS_H
#define NK_CORE_SETTINGS_H

#include <stddef.h>

#include <sys/types.h>

#include "base/cidr.h"
#include "base/err.h"

#define NK_DEFAULT_PORT      9999
#define NK_DEFAULT_MAX_CONNS 16384
#define NK_DEFAULT_PROTO     "raw"
/* Output queued for one peer before it is closed: a peer that never reads
 * is paused first (it gets no more answers), so only sends from elsewhere
 * -- a plugin writing to other sessions -- can queue this much. */
#define NK_DEFAULT_MAX_OUTPUT (32LL << 20)
/* Deadlines, in seconds (0: none).  Idle: nothing read or written, as
 * HAProxy's `timeout client`; message: a begun message must be complete,
 * as nginx's client_header_timeout, which defeats a slow drip; write:
 * output waiting for a peer must be written, as nginx's send_timeout, so a
 * peer that reads too slowly (or not at all) cannot hold a slot. */
/* All input and output buffered for every connection, across workers
 * (Redis: maxmemory-clients).  Past it the connections holding the most
 * are closed first. */
#define NK_DEFAULT_MAX_BUFFER_MEMORY (1LL << 30)
#define NK_DEFAULT_IDLE_TIMEOUT      300.0
#define NK_DEFAULT_MESSAGE_TIMEOUT   30.0
#define NK_DEFAULT_WRITE_TIMEOUT     60.0
#define NK_MAX_OUTPUT_MIN            (64LL << 10)
#define NK_MAX_OUTPUT_MAX            (1LL << 40)
#define NK_DEFAULT_UDP_RATE          100 /* datagrams a second per source address */

/* A growable list of owned strings. */
struct nk__strlist {
    char **items;
    size_t n;
};

int nk__strlist_add(struct nk__strlist *l, const char *s);
void nk__strlist_free(struct nk__strlist *l);

/* One KEY=VALUE with where it was written (file NULL: the command line). */
struct nk__kv {
    char *key;        /* owned */
    char *val;        /* owned, unquoted, NUL-terminated */
    size_t len;       /* bytes of val (a value may hold NULs) */
    const char *file; /* borrowed from the settings, or NULL */
    int line;
};

struct nk__kvlist {
    struct nk__kv *items;
    size_t n;
};

int nk__kvlist_add(struct nk__kvlist *l, const char *key, const char *val,
                   size_t len, const char *file, int line);
/* The last item with `key`, or NULL. */
const struct nk__kv *nk__kvlist_find(const struct nk__kvlist *l,
                                     const char *key);
void nk__kvlist_free(struct nk__kvlist *l);

/* The most keys [netkit] or [listen.NAME] may have (conf.c's table). */
#define NK_CONF_KEYS_MAX 48

/* A listener's TLS (core/tls/): the files are read, and every value is
 * checked against OpenSSL, when the configuration is built. */
enum nk__tls_verify {
    NK_TLS_VERIFY_NONE,
    NK_TLS_VERIFY_OPTIONAL,
    NK_TLS_VERIFY_REQUIRE
};
#define NK_DEFAULT_TLS_HANDSHAKE_TIMEOUT 10.0

struct nk__tls_conf {
    int on;                   /* tls = on|off; -1: not said (on with a cert) */
    int on_line;              /* where `tls` was set, 0: not */
    struct nk__kvlist certs;  /* tls_cert, in order, with where each is */
    struct nk__kvlist keys;   /* tls_key: the i-th goes with the i-th cert */
    char *ca;                 /* tls_ca: client certificates' CAs (PEM) */
    int verify;               /* enum nk__tls_verify */
    int min_version;          /* 0: TLS 1.2, 1: TLS 1.3 */
    char *ciphers;            /* tls_ciphers (TLS 1.2), NULL: OpenSSL's */
    char *ciphersuites;       /* tls_ciphersuites (TLS 1.3) */
    char *alpn;               /* tls_alpn: "h2,http/1.1", NULL: none */
    double handshake_timeout; /* seconds; 0: none */
};

/* One listener: a [listen.NAME] section, or the command line's -p/-H/-P.. */
struct nk__listen_conf {
    char *name;                   /* "main" for [listen.main]; "cli" */
    char *proto;                  /* plugin name */
    struct nk__strlist hosts;     /* empty: localhost (127.0.0.1 and ::1) */
    int port;                     /* 0..65535 */
    unsigned transport;           /* NK_TRANSPORT_TCP or NK_TRANSPORT_UDP */
    int family;                   /* AF_UNSPEC (any), AF_INET, AF_INET6 */
    long long max_conns;          /* TCP connections at once */
    long long max_conns_per_ip;   /* per address (IPv6: per /64); 0: none */
    double idle_timeout;          /* seconds, 0 = none */
    double message_timeout;       /* seconds to complete a begun message */
    double write_timeout;         /* seconds for queued output to be written */
    long long max_output;         /* bytes queued for one peer before closing */
    long long udp_rate;           /* datagrams/s per source address, 0 = none */
    int udp_allow_low_ports;      /* answer source ports below 1024 */
    int unix_mode;                /* unix socket file's mode; 0: umask's */
    long long unix_uid, unix_gid; /* its owner and group; -1: ours */
    const char *udp_key;          /* first udp_* key in the file, or NULL */
    int udp_line;                 /* ... and its line */
    struct nk__kvlist sockopts;
    struct nk__acl acl; /* allow / deny, the command line's first */
    int proxy_protocol; /* enum nk__proxy_mode (serve/proxy.h) */
    int proxy_line;     /* where proxy_protocol was set, 0: not */
    struct nk__cidr_list proxy_trusted; /* empty: any peer */
    int proxy_trusted_line;
    struct nk__tls_conf tls;
    const char *file; /* where the section starts, for errors */
    int line;
    /* The line each key was first set on, by conf.c's table; 0: not in
     * the file (see nk__conf_key_line). */
    int key_line[NK_CONF_KEYS_MAX];
};

/* A [plugin.NAME] section. */
struct nk__plugin_conf {
    char *name;
    struct nk__kvlist opts;
    const char *file;
    int line;
};

enum nk__command {
    NK_CMD_NONE = 0,
    NK_CMD_SERVE,
    NK_CMD_CONNECT,
    NK_CMD_PLUGINS,
    NK_CMD_SOCKOPTS,
    NK_CMD_CHECK,
    NK_CMD_HELP,
    NK_CMD_VERSION
};

/* Which listener fields the command line set (they override the config). */
enum {
    NK_SET_PROTO = 1 << 0,
    NK_SET_HOST = 1 << 1,
    NK_SET_PORT = 1 << 2,
    NK_SET_UDP = 1 << 3,
    NK_SET_FAMILY = 1 << 4,
    NK_SET_MAX_CONNS = 1 << 5,
    NK_SET_IDLE = 1 << 6,
    NK_SET_WORKERS = 1 << 7,
    NK_SET_LOG_LEVEL = 1 << 8,
    NK_SET_MAX_OUTPUT = 1 << 9,
    NK_SET_MESSAGE_TIMEOUT = 1 << 10,
    NK_SET_WRITE_TIMEOUT = 1 << 11,
    NK_SET_MAX_CONNS_PER_IP = 1 << 12,
    NK_SET_UDP_RATE = 1 << 13,
    NK_SET_METRICS = 1 << 14,
    NK_SET_TLS = 1 << 15 /* any --tls-* of serve */
};

struct nk__settings {
    enum nk__command command;
    int help;         /* `netkit COMMAND --help` */
    unsigned cli_set; /* NK_SET_* bits */

    /* [netkit] */
    int log_level; /* enum nk_log_level */
    int log_json;
    int workers;
    long long max_buffer_memory;  /* bytes buffered for all peers; 0: none */
    char *plugin_path;            /* colon-separated, searched after -L */
    const char *plugin_path_file; /* origin of plugin_path */
    int plugin_path_line;
    /* user / group: switch to them once every socket is bound */
    char *user, *group;
    uid_t uid;
    gid_t gid;
    int user_line, group_line;
    char *metrics; /* [netkit] metrics / --metrics: HOST:PORT, or NULL */
    int metrics_line;
    int key_line[NK_CONF_KEYS_MAX]; /* of [netkit]'s keys, as a listener's */
    int check_only;                 /* serve --check: validate, print, exit */
    int argc;    /* the command line, kept to read it again on reload */
    char **argv; /* (main's: lives as long as the process) */

    char *config_file;              /* NULL: built-in defaults only */
    struct nk__strlist plugin_dirs; /* -L, in order */

    struct nk__listen_conf *listeners; /* [listen.*] (or the CLI's one) */
    size_t nlisteners;
    struct nk__plugin_conf *plugins; /* [plugin.*] */
    size_t nplugins;

    struct nk__listen_conf cli;        /* listener fields given on the CLI */
    struct nk__kvlist cli_plugin_opts; /* -O, override [plugin.*] */
    struct nk__kvlist cli_sockopts;    /* -o, override sockopt.* */
    struct nk__acl cli_acl; /* --allow/--deny, before every listener's */

    /* connect */
    char *host, *port; /* positional HOST PORT */
    char *message;     /* -m */
    long long count;   /* -n */
    double timeout;    /* --timeout, seconds */
    int timeout_set;   /* --timeout was given (--stream's idle limit) */
    int stream;        /* --stream */
    int proxy_header;  /* --proxy-protocol: 0 none, 1 v1, 2 v2 */
    /* connect --tls: the certificate and CA files, ALPN and verify mode
     * come from cli.tls (the options serve shares) */
    int tls_client;   /* --tls, or any --tls-* */
    char *tls_sni;    /* --tls-sni: the name sent and verified */
    int tls_insecure; /* --insecure: do not verify the server */
    int probe;        /* -z: connect, send nothing, exit */
    int hexdump;      /* -x: both directions in hex on stderr */
    int crlf;         /* -C: lines sent end with CR LF */
    char *source;     /* -s: the local address to connect from */
    int source_port;  /* --source-port, 0: any */
    char *listen;     /* --listen [HOST:]PORT: take one connection */

    char *plugins_name;  /* netkit plugins NAME, netkit check NAME */
    unsigned check_role; /* --role: NK_ROLE_*, 0: serve */
    struct nk__strlist check_samples; /* --sample FILE, in order */
};

/* The directory of the running netkit binary into buf (from
 * /proc/self/exe); 0, or -1 when it cannot be told. */
int nk__exe_dir(char *buf, size_t size);

/*
 * Is the running binary in a build tree, that is, is there a CMakeCache.txt
 * beside it?  Such a binary searches its own plugins/ before the installed
 * plugin directory and reads no installed netkit.ini, so a developer runs
 * what was just built, not a stale install.
 */
int nk__exe_in_build_tree(void);

/* Defaults everywhere. */
void nk__settings_init(struct nk__settings *s);
void nk__settings_free(struct nk__settings *s);
void nk__listen_conf_init(struct nk__listen_conf *l);
void nk__listen_conf_free(struct nk__listen_conf *l);

/* Append a listener / plugin section (zeroed, listener with defaults). */
struct nk__listen_conf *nk__settings_add_listener(struct nk__settings *s);
struct nk__plugin_conf *nk__settings_add_plugin(struct nk__settings *s);
struct nk__plugin_conf *nk__settings_find_plugin(const struct nk__settings *s,
                                                 const char *name);

/*
 * After CLI and config: choose the listeners (the CLI's one when any of
 * -p -H -P -u -4 -6 was given, else the config's, else one default), apply
 * -o/--max-conns/--idle-timeout to each, and check what can be checked
 * without plugins (socket options against each listener's transport).
 */
int nk__settings_finish(struct nk__settings *s, struct nk_err *err);

#endif /* NK_CORE_SETTINGS_H */
