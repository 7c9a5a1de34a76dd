/*
 * cli.c -- the command line.  See cli.h.
 *
 * The option table below is the only list of options: getopt_long's array,
 * the per-command checks and every --help text come from it.
 */
#include "config/cli.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/cidr.h"
#include "config/value.h"
#include "connect/hints.h"
#include "connect/target.h"

/* Which commands take an option (bit per enum nk__command). */
#define C_SERVE    (1u << NK_CMD_SERVE)
#define C_CONNECT  (1u << NK_CMD_CONNECT)
#define C_PLUGINS  (1u << NK_CMD_PLUGINS)
#define C_SOCKOPTS (1u << NK_CMD_SOCKOPTS)
#define C_CHECK    (1u << NK_CMD_CHECK)
#define C_ALL      (C_SERVE | C_CONNECT | C_PLUGINS | C_SOCKOPTS | C_CHECK)
#define C_BOTH     (C_SERVE | C_CONNECT)

/* A setter returns NULL or a phrase saying what is wrong with arg. */
typedef const char *(*cli_set_fn)(struct nk__settings *s, const char *arg);

struct cli_opt {
    const char *lng;
    int shrt;
    const char *arg; /* NULL: a flag */
    unsigned cmds;
    cli_set_fn set;
    const char *help;
};

static char cli_why[160];
static int cli_count_set; /* -n was given (it needs -m) */

static const char *
cli_kv(struct nk__kvlist *l, const char *arg, const char *what)
{
    const char *eq = strchr(arg, '='), *why;
    char key[128], *val;
    size_t len;
    int rc;

    if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
        snprintf(cli_why, sizeof(cli_why), "expected %s", what);
        return cli_why;
    }
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    /* The same rule as a config value: "quoted" with escapes, or as is. */
    if ((why = nk__unquote(eq + 1, &val, &len)) != NULL) {
        snprintf(cli_why, sizeof(cli_why), "%s: %s", key, why);
        return cli_why;
    }
    rc = nk__kvlist_add(l, key, val, len, NULL, 0);
    nk__free(val);
    return rc < 0 ? "out of memory" : NULL;
}

static const char *
cli_replace(char **field, const char *arg)
{
    char *copy = nk__strdup(arg);

    if (copy == NULL)
        return "out of memory";
    nk__free(*field);
    *field = copy;
    return NULL;
}

static const char *
set_proto(struct nk__settings *s, const char *arg)
{
    /* nc's -p is the (source) port: `-p 9999` is that habit. */
    if (nk__hint_port_as_plugin(s->command == NK_CMD_CONNECT, arg, cli_why,
                                sizeof(cli_why)) != NULL)
        return cli_why;
    s->cli_set |= NK_SET_PROTO;
    return cli_replace(&s->cli.proto, arg);
}

static const char *
set_udp(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->cli_set |= NK_SET_UDP;
    s->cli.transport = NK_TRANSPORT_UDP;
    return NULL;
}

static const char *
set_inet(struct nk__settings *s, const char *arg)
{
    (void)arg;
    if ((s->cli_set & NK_SET_FAMILY) && s->cli.family != AF_INET)
        return "-4 and -6 cannot be used together (neither: both families)";
    s->cli_set |= NK_SET_FAMILY;
    s->cli.family = AF_INET;
    return NULL;
}

static const char *
set_inet6(struct nk__settings *s, const char *arg)
{
    (void)arg;
    if ((s->cli_set & NK_SET_FAMILY) && s->cli.family != AF_INET6)
        return "-4 and -6 cannot be used together (neither: both families)";
    s->cli_set |= NK_SET_FAMILY;
    s->cli.family = AF_INET6;
    return NULL;
}

static const char *
set_config(struct nk__settings *s, const char *arg)
{
    return cli_replace(&s->config_file, arg);
}

static const char *
set_sockopt(struct nk__settings *s, const char *arg)
{
    return cli_kv(&s->cli_sockopts, arg,
                  "NAME=VALUE, e.g. -o SO_RCVBUF=262144");
}

static const char *
set_plugin_opt(struct nk__settings *s, const char *arg)
{
    return cli_kv(&s->cli_plugin_opts, arg, "KEY=VALUE, e.g. -O prefix=hi");
}

static const char *
set_role(struct nk__settings *s, const char *arg)
{
    if (strcmp(arg, "serve") == 0)
        s->check_role = NK_ROLE_SERVE;
    else if (strcmp(arg, "connect") == 0)
        s->check_role = NK_ROLE_CONNECT;
    else
        return "serve or connect";
    return NULL;
}

static const char *
set_sample(struct nk__settings *s, const char *arg)
{
    return nk__strlist_add(&s->check_samples, arg) < 0 ? "out of memory" : NULL;
}

static const char *
set_plugin_dir(struct nk__settings *s, const char *arg)
{
    struct stat st;

    /* A mistyped directory would only show as "plugin not found" later,
     * or not at all when the plugin is found elsewhere. */
    if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(cli_why, sizeof(cli_why), "'%.100s' is not a directory", arg);
        return cli_why;
    }
    return nk__strlist_add(&s->plugin_dirs, arg) < 0 ? "out of memory" : NULL;
}

static const char *
set_verbose(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->cli_set |= NK_SET_LOG_LEVEL;
    s->log_level = NK_LOG_DEBUG;
    return NULL;
}

static const char *
set_quiet(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->cli_set |= NK_SET_LOG_LEVEL;
    s->log_level = NK_LOG_ERROR;
    return NULL;
}

static const char *
set_log_format(struct nk__settings *s, const char *arg)
{
    long long i;
    const char *why = nk__parse_enum(arg, "human|json", &i);

    if (why == NULL)
        s->log_json = i == 1;
    return why;
}

static const char *
set_host(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_HOST;
    return nk__strlist_add(&s->cli.hosts, arg) < 0 ? "out of memory" : NULL;
}

static const char *
set_port(struct nk__settings *s, const char *arg)
{
    int port = nk__addr_parse_port(arg, 1);

    if (port < 0)
        return "expected a port 0..65535";
    s->cli_set |= NK_SET_PORT;
    s->cli.port = port;
    return NULL;
}

static const char *
set_max_conns(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_MAX_CONNS;
    return nk__parse_int(arg, 1, 1000000, &s->cli.max_conns);
}

static const char *
set_max_conns_per_ip(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_MAX_CONNS_PER_IP;
    return nk__parse_int(arg, 0, 1000000, &s->cli.max_conns_per_ip);
}

static const char *
set_idle(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_IDLE;
    return nk__parse_seconds(arg, &s->cli.idle_timeout);
}

static const char *
set_message_timeout(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_MESSAGE_TIMEOUT;
    return nk__parse_seconds(arg, &s->cli.message_timeout);
}

static const char *
set_write_timeout(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_WRITE_TIMEOUT;
    return nk__parse_seconds(arg, &s->cli.write_timeout);
}

static const char *
set_max_output(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_MAX_OUTPUT;
    return nk__parse_size(arg, NK_MAX_OUTPUT_MIN, NK_MAX_OUTPUT_MAX,
                          &s->cli.max_output);
}

static const char *
set_allow(struct nk__settings *s, const char *arg)
{
    return nk__acl_parse(&s->cli_acl, 1, arg, NULL, 0);
}

static const char *
set_deny(struct nk__settings *s, const char *arg)
{
    return nk__acl_parse(&s->cli_acl, 0, arg, NULL, 0);
}

static const char *
set_metrics(struct nk__settings *s, const char *arg)
{
    char host[256];
    int port;
    const char *why = nk__addr_split(arg, host, sizeof(host), &port);

    if (why == NULL) {
        s->cli_set |= NK_SET_METRICS;
        why = cli_replace(&s->metrics, arg);
    }
    return why;
}

static const char *
set_check_only(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->check_only = 1;
    return NULL;
}

static const char *
set_udp_rate(struct nk__settings *s, const char *arg)
{
    s->cli_set |= NK_SET_UDP_RATE;
    return nk__parse_int(arg, 0, 1000000, &s->cli.udp_rate);
}

static const char *
set_workers(struct nk__settings *s, const char *arg)
{
    long long n;
    const char *why = nk__parse_int(arg, 1, 64, &n);

    if (why == NULL) {
        s->workers = (int)n;
        s->cli_set |= NK_SET_WORKERS;
    }
    return why;
}

static const char *
set_message(struct nk__settings *s, const char *arg)
{
    return cli_replace(&s->message, arg);
}

static const char *
set_count(struct nk__settings *s, const char *arg)
{
    cli_count_set = 1;
    return nk__parse_int(arg, 1, 1000000000, &s->count);
}

static const char *
set_timeout(struct nk__settings *s, const char *arg)
{
    const char *why = nk__parse_seconds(arg, &s->timeout);

    if (why == NULL && s->timeout <= 0)
        return "must be more than 0 seconds";
    if (why == NULL)
        s->timeout_set = 1;
    return why;
}

static const char *
set_stream(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->stream = 1;
    return NULL;
}

static const char *
set_proxy_header(struct nk__settings *s, const char *arg)
{
    long long i;
    const char *why = nk__parse_enum(arg, "v1|v2", &i);

    if (why == NULL)
        s->proxy_header = (int)i + 1;
    return why;
}

/* --tls-* shared by serve (the listeners' TLS) and connect (the client's):
 * serve applies them to every TCP listener, connect turns TLS on. */
static void
cli_tls_used(struct nk__settings *s)
{
    s->cli_set |= NK_SET_TLS;
    s->tls_client = 1;
}

static const char *
cli_tls_file(struct nk__kvlist *l, const char *key, const char *arg)
{
    if (*arg == '\0')
        return "expected a file name";
    return nk__kvlist_add(l, key, arg, strlen(arg), NULL, 0) < 0
               ? "out of memory"
               : NULL;
}

static const char *
set_tls(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->tls_client = 1;
    return NULL;
}

static const char *
set_tls_cert(struct nk__settings *s, const char *arg)
{
    cli_tls_used(s);
    return cli_tls_file(&s->cli.tls.certs, "tls_cert", arg);
}

static const char *
set_tls_key(struct nk__settings *s, const char *arg)
{
    cli_tls_used(s);
    return cli_tls_file(&s->cli.tls.keys, "tls_key", arg);
}

static const char *
set_tls_ca(struct nk__settings *s, const char *arg)
{
    cli_tls_used(s);
    return *arg == '\0' ? "expected a file name"
                        : cli_replace(&s->cli.tls.ca, arg);
}

static const char *
set_tls_verify(struct nk__settings *s, const char *arg)
{
    long long i;
    const char *why = nk__parse_enum(arg, "none|optional|require", &i);

    cli_tls_used(s);
    if (why == NULL)
        s->cli.tls.verify = (int)i;
    return why;
}

static const char *
set_tls_alpn(struct nk__settings *s, const char *arg)
{
    cli_tls_used(s);
    return *arg == '\0' ? "expected protocol names, e.g. h2,http/1.1"
                        : cli_replace(&s->cli.tls.alpn, arg);
}

static const char *
set_tls_sni(struct nk__settings *s, const char *arg)
{
    s->tls_client = 1;
    return *arg == '\0' ? "expected a host name"
                        : cli_replace(&s->tls_sni, arg);
}

static const char *
set_insecure(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->tls_client = 1;
    s->tls_insecure = 1;
    return NULL;
}

static const char *
set_probe(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->probe = 1;
    return NULL;
}

static const char *
set_hexdump(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->hexdump = 1;
    return NULL;
}

static const char *
set_crlf(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->crlf = 1;
    return NULL;
}

static const char *
set_source(struct nk__settings *s, const char *arg)
{
    return cli_replace(&s->source, arg);
}

static const char *
set_source_port(struct nk__settings *s, const char *arg)
{
    int port = nk__addr_parse_port(arg, 0);

    if (port < 0)
        return "expected a port 1..65535";
    s->source_port = port;
    return NULL;
}

static const char *
set_listen(struct nk__settings *s, const char *arg)
{
    return cli_replace(&s->listen, arg);
}

static const char *
set_help(struct nk__settings *s, const char *arg)
{
    (void)arg;
    s->command = NK_CMD_HELP;
    return NULL;
}

/* Long options without a short letter get codes from here up. */
#define CLI_LONG_ONLY 256

static const struct cli_opt cli_opts[] = {
    {"proto", 'p', "NAME", C_BOTH, set_proto,
     "protocol plugin (default raw, or the config file's)"},
    {"udp", 'u', NULL, C_BOTH | C_CHECK, set_udp, "UDP instead of TCP"},
    {"ipv4", '4', NULL, C_BOTH, set_inet, "IPv4 only"},
    {"ipv6", '6', NULL, C_BOTH, set_inet6, "IPv6 only"},
    {"config", 'c', "FILE", C_ALL, set_config,
     "config file (default $NETKIT_CONFIG -- set empty: none --, else the "
     "installed netkit.ini unless this binary is in a build tree; see the "
     "end of this help)"},
    {"sockopt", 'o', "NAME=VALUE", C_BOTH, set_sockopt,
     "socket option, repeatable (see netkit sockopts)"},
    {"plugin-opt", 'O', "KEY=VALUE", C_BOTH | C_CHECK, set_plugin_opt,
     "plugin option, repeatable (see netkit plugins NAME); VALUE may be "
     "\"quoted\" with escapes, as in the config file"},
    {"plugin-dir", 'L', "DIR", C_ALL, set_plugin_dir,
     "look for plugins in DIR first, repeatable"},
    {"verbose", 'v', NULL, C_ALL, set_verbose,
     "more detail (socket options read back, ...)"},
    {"quiet", 'q', NULL, C_ALL, set_quiet, "errors only"},
    {"log-format", 0, "human|json", C_ALL, set_log_format,
     "log line format (default human)"},
    {"host", 'H', "ADDR", C_SERVE, set_host,
     "address to listen on, repeatable (default localhost: 127.0.0.1 and "
     "::1; all interfaces only with -H :: or -H 0.0.0.0); unix:/PATH or "
     "unix:@NAME: a unix socket"},
    {"port", 'P', "N", C_SERVE, set_port,
     "port (default 9999; 0 picks a free one and logs it)"},
    {"max-conns", 0, "N", C_SERVE, set_max_conns,
     "connections at once per listener, outbound ones included (default "
     "16384)"},
    {"max-conns-per-ip", 0, "N", C_SERVE, set_max_conns_per_ip,
     "connections at once from one address, IPv6 per /64 (default 0: no "
     "limit)"},
    {"idle-timeout", 0, "SECONDS", C_SERVE, set_idle,
     "close connections idle this long (default 300; 0: never)"},
    {"message-timeout", 0, "SECONDS", C_SERVE, set_message_timeout,
     "close a connection whose begun message is not complete within this "
     "(default 30; 0: never)"},
    {"write-timeout", 0, "SECONDS", C_SERVE, set_write_timeout,
     "close a connection whose queued output is not written within this "
     "(default 60; 0: never)"},
    {"max-output", 0, "BYTES", C_SERVE, set_max_output,
     "output queued for one peer before it is closed (k/M/G; default 32M)"},
    {"allow", 0, "CIDR", C_SERVE, set_allow,
     "allow clients in CIDR (10.0.0.0/8, ::1, all), repeatable"},
    {"deny", 0, "CIDR", C_SERVE, set_deny,
     "deny clients in CIDR, repeatable; rules apply in order, before the "
     "config's, the first match decides, no match allows"},
    {"check", 't', NULL, C_SERVE, set_check_only,
     "check the config and plugins (load each, create an instance), print "
     "the effective listeners and where each value came from, exit 0 or 2; "
     "binds nothing; with -q only an error is printed"},
    {"metrics", 0, "HOST:PORT", C_SERVE, set_metrics,
     "serve the counters at http://HOST:PORT/metrics (Prometheus)"},
    {"udp-rate", 0, "N", C_SERVE, set_udp_rate,
     "UDP: datagrams answered a second per source address (default 100; "
     "0: no limit)"},
    {"workers", 'w', "N", C_SERVE, set_workers,
     "worker threads, each with its own event loop (default 1)"},
    {"message", 'm', "TEXT", C_CONNECT, set_message,
     "send TEXT (with -n, N times), print the replies, exit"},
    {"count", 'n', "N", C_CONNECT, set_count, "how many times -m is sent"},
    {"timeout", 0, "SECONDS", C_CONNECT, set_timeout,
     "reply wait (default 5); with --stream, only if given: exit 1 after "
     "this long with no byte either way"},
    {"stream", 0, NULL, C_CONNECT, set_stream,
     "raw only: full-duplex byte pipe like nc, half-close at end of input"},
    {"proxy-protocol", 0, "v1|v2", C_CONNECT, set_proxy_header,
     "send a PROXY protocol header first (as HAProxy's send-proxy does), "
     "with this connection's own addresses"},
    {"role", 0, "serve|connect", C_CHECK, set_role,
     "the role the instance is created in (default serve: decode reads "
     "requests; connect: it reads replies)"},
    {"sample", 0, "FILE", C_CHECK, set_sample,
     "repeatable: a file of whole messages as the role's decode reads "
     "them (requests for serve, replies for connect), for codecs whose "
     "two directions differ"},
    {"tls", 0, NULL, C_CONNECT, set_tls,
     "TLS: verify the server's certificate (system CAs, or --tls-ca) and "
     "name (HOST, or --tls-sni)"},
    {"tls-cert", 0, "FILE", C_BOTH, set_tls_cert,
     "serve: TLS on every TCP listener with this certificate (PEM, chain; "
     "repeatable with --tls-key for SNI); connect: the client certificate"},
    {"tls-key", 0, "FILE", C_BOTH, set_tls_key,
     "the private key of --tls-cert (PEM; mode 600, or 640 for a group)"},
    {"tls-ca", 0, "FILE", C_BOTH, set_tls_ca,
     "serve: the CAs of client certificates (with --tls-verify); connect: "
     "the CAs of the server's, instead of the system's"},
    {"tls-verify", 0, "none|optional|require", C_SERVE, set_tls_verify,
     "serve: ask for a client certificate and check it against --tls-ca"},
    {"tls-alpn", 0, "LIST", C_BOTH, set_tls_alpn,
     "ALPN protocols in order of preference, comma-separated (h2,http/1.1)"},
    {"tls-sni", 0, "NAME", C_CONNECT, set_tls_sni,
     "TLS: the server name sent and verified (default HOST)"},
    {"insecure", 0, NULL, C_CONNECT, set_insecure,
     "TLS: do not verify the server's certificate or name"},
    {"probe", 'z', NULL, C_CONNECT, set_probe,
     "only connect, send nothing: exit 0 open, 1 closed (nc -z)"},
    {"hexdump", 'x', NULL, C_CONNECT, set_hexdump,
     "hex dump of every byte sent (>) and received (<) on stderr, with "
     "offsets"},
    {"crlf", 'C', NULL, C_CONNECT, set_crlf,
     "raw, line: end each line sent with CR LF (--stream: LF becomes CR "
     "LF), as nc -C"},
    {"source", 's', "ADDR", C_CONNECT, set_source,
     "connect from this local address"},
    {"source-port", 0, "N", C_CONNECT, set_source_port,
     "connect from this local port"},
    {"listen", 0, "[HOST:]PORT", C_CONNECT, set_listen,
     "take one TCP connection on PORT (HOST default localhost; 0: a free "
     "port, logged) and pipe it as --stream: its bytes to stdout exactly, "
     "as nc -l PORT > file"},
    {"help", 'h', NULL, C_ALL, set_help, "this help"},
    {NULL, 0, NULL, 0, NULL, NULL},
};

#define CLI_NOPTS (sizeof(cli_opts) / sizeof(cli_opts[0]) - 1)

static const struct {
    const char *name;
    enum nk__command cmd;
    const char *args;
    const char *summary;
    const char *notes; /* after the options in the command's --help */
} cli_cmds[] = {
    {"serve", NK_CMD_SERVE, "[options]", "run a server", NULL},
    {"connect", NK_CMD_CONNECT, "[options] HOST PORT", "talk to a server",
     "\nThe server: HOST PORT, HOST:PORT, [V6]:PORT, or PORT (localhost); "
     "PORT may\nbe a service name (http, echo); or unix:/PATH, unix:@NAME (a "
     "unix socket).\nRaw over TCP with a binary file on standard input is a "
     "byte pipe, as\n--stream.\n"},
    {"plugins", NK_CMD_PLUGINS, "[options] [NAME]",
     "list plugins, or one plugin's options", NULL},
    {"sockopts", NK_CMD_SOCKOPTS, "", "list the socket options netkit knows",
     NULL},
    {"check", NK_CMD_CHECK, "[options] NAME",
     "run conformance cases on a plugin's codec",
     "\nCases, one line each (ok, FAIL or skip): load, defaults, create,\n"
     "round-trip, split-invariance, stateless, need-monotonic, "
     "empty-message,\nmax-message, over-max, random-bytes, samples (each "
     "--sample FILE\ndecoded whole, byte by byte and at random splits, to "
     "the same messages).\nEach case that calls the plugin runs in a child "
     "process, so a crash fails\nthe case.  Random input comes from fixed "
     "seeds: a run is repeatable.\n"
     "Exit status: 0 every case passed or was skipped, 1 a case failed,\n"
     "2 usage error (unknown plugin, bad -O).\n"},
};

#define CLI_NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static int
cli_code(size_t i)
{
    return cli_opts[i].shrt ? cli_opts[i].shrt : CLI_LONG_ONLY + (int)i;
}

static const char *
cli_cmd_name(enum nk__command cmd)
{
    for (size_t i = 0; i < CLI_NCMDS; i++)
        if (cli_cmds[i].cmd == cmd)
            return cli_cmds[i].name;
    return "netkit";
}

void
nk__cli_wrap(FILE *out, const char *text, int col, int indent)
{
    int fresh = col <= indent; /* no space before a line's first word */

    if (col < indent) {
        fprintf(out, "%*s", indent - col, "");
        col = indent;
        fresh = 1;
    }
    while (*text != '\0') {
        size_t word = strcspn(text, " \n");

        if (!fresh && col + 1 + (int)word > NK_CLI_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            fresh = 1;
        }
        if (!fresh) {
            fputc(' ', out);
            col++;
        }
        fwrite(text, 1, word, out);
        col += (int)word;
        fresh = 0;
        text += word;
        if (*text == '\n') {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            fresh = 1;
            text++;
        }
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

void
nk__cli_usage(FILE *out, enum nk__command cmd)
{
    char left[64];
    int col;

    if (cmd == NK_CMD_NONE || cmd == NK_CMD_HELP || cmd == NK_CMD_VERSION) {
        fprintf(out, "usage:\n");
        for (size_t i = 0; i < CLI_NCMDS; i++) {
            col = fprintf(out, "  netkit %-8s %-19s", cli_cmds[i].name,
                          cli_cmds[i].args);
            nk__cli_wrap(out, cli_cmds[i].summary, col, 38);
        }
        fprintf(out, "  netkit --help | --version\n\n"
                     "'netkit COMMAND --help' lists a command's options.\n"
                     "Exit status: 0 success, 1 run-time failure, "
                     "2 usage or configuration error.\n");
        return;
    }
    for (size_t i = 0; i < CLI_NCMDS; i++)
        if (cli_cmds[i].cmd == cmd)
            fprintf(out, "usage: netkit %s%s%s\n%s.\n\noptions:\n",
                    cli_cmds[i].name, *cli_cmds[i].args ? " " : "",
                    cli_cmds[i].args, cli_cmds[i].summary);
    for (size_t i = 0; i < CLI_NOPTS; i++) {
        const struct cli_opt *o = &cli_opts[i];
        if (!(o->cmds & (1u << cmd)))
            continue;
        if (o->shrt)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shrt, o->lng,
                     o->arg ? " " : "", o->arg ? o->arg : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o->lng,
                     o->arg ? " " : "", o->arg ? o->arg : "");
        col = fprintf(out, "  %-28s", left);
        if (col > 30) { /* a long option and argument: help below */
            fprintf(out, "\n%30s", "");
            col = 30;
        }
        nk__cli_wrap(out, o->help, col, 31);
    }
    for (size_t i = 0; i < CLI_NCMDS; i++)
        if (cli_cmds[i].cmd == cmd && cli_cmds[i].notes != NULL)
            fputs(cli_cmds[i].notes, out);
}

/* The long option nearest to a mistyped one, for "did you mean". */
static const char *
cli_suggest(const char *bad)
{
    const char *best = NULL;
    int best_d = 3;

    while (*bad == '-')
        bad++;
    for (size_t i = 0; i < CLI_NOPTS; i++) {
        int d = nk__edit_distance(bad, cli_opts[i].lng);
        if (d < best_d) {
            best_d = d;
            best = cli_opts[i].lng;
        }
    }
    return best;
}

static void
cli_build(struct option *lo, char *so)
{
    size_t n = 0;

    *so++ = ':'; /* report a missing argument as ':' */
    for (size_t i = 0; i < CLI_NOPTS; i++) {
        const struct cli_opt *o = &cli_opts[i];
        lo[n++] =
            (struct option){o->lng, o->arg ? required_argument : no_argument,
                            NULL, cli_code(i)};
        if (o->shrt) {
            *so++ = (char)o->shrt;
            if (o->arg)
                *so++ = ':';
        }
    }
    lo[n] = (struct option){0};
    *so = '\0';
}

static int
cli_positional(struct nk__settings *s, int argc, char **argv,
               struct nk_err *err)
{
    const char *name = cli_cmd_name(s->command);

    switch (s->command) {
    case NK_CMD_CONNECT:
        if (cli_count_set && s->message == NULL)
            return nk__err_set(err, "-n N needs -m TEXT: it is how many "
                                    "times -m is sent (nc's -n, numeric "
                                    "addresses, is not needed)");
        if (s->config_file != NULL && *s->config_file != '\0' &&
            access(s->config_file, F_OK) < 0)
            return nk__err_set(err, "option -c/--config: no file '%s' (%s)",
                               s->config_file, nk__hint_nc_option(1, 'c'));
        if (s->listen != NULL && argc > 0)
            return nk__err_set(err, "--listen takes no HOST PORT");
        if (s->listen != NULL)
            return 0;
        return nk__target_parse(argc, argv,
                                s->cli.transport == NK_TRANSPORT_UDP, &s->host,
                                &s->port, err);
    case NK_CMD_PLUGINS:
        if (argc > 1)
            return nk__err_set(err, "plugins takes at most one NAME");
        if (argc == 1 && cli_replace(&s->plugins_name, argv[0]))
            return nk__err_set(err, "out of memory");
        return 0;
    case NK_CMD_CHECK:
        if (argc != 1)
            return nk__err_set(err, "check needs one plugin NAME (see "
                                    "'netkit check --help')");
        if (cli_replace(&s->plugins_name, argv[0]))
            return nk__err_set(err, "out of memory");
        return 0;
    default:
        if (argc > 0)
            return nk__err_set(err,
                               "unexpected argument '%s' (see 'netkit "
                               "%s --help')",
                               argv[0], name);
        return 0;
    }
}

/* The option's names for messages: "-P/--port" or "--max-conns". */
static void
cli_opt_name(char *buf, size_t size, const struct cli_opt *o)
{
    if (o->shrt)
        snprintf(buf, size, "-%c/--%s", o->shrt, o->lng);
    else
        snprintf(buf, size, "--%s", o->lng);
}

/* Handle one option returned by getopt_long. */
static int
cli_one(struct nk__settings *s, int c, char **argv, struct nk_err *err)
{
    const char *cmd = cli_cmd_name(s->command), *why, *near, *hint;
    char name[64];

    if (c == '?' || c == ':') {
        const char *typed = argv[optind - 1];
        if (optopt > 0 && optopt < CLI_LONG_ONLY && typed[1] != '-')
            snprintf(name, sizeof(name), "-%c", optopt);
        else
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(typed, "="),
                     typed);
        if (c == ':')
            return nk__err_set(err, "option %s needs a value", name);
        near = name[1] == '-' ? cli_suggest(name) : NULL;
        hint = name[1] != '-'
                   ? nk__hint_nc_option(s->command == NK_CMD_CONNECT, optopt)
                   : NULL;
        if (hint != NULL)
            return nk__err_set(err, "unknown option %s (%s)", name, hint);
        return nk__err_set(err,
                           "unknown option %s%s%s%s (see 'netkit %s "
                           "--help')",
                           name, near ? " (did you mean --" : "",
                           near ? near : "", near ? "?)" : "", cmd);
    }
    for (size_t i = 0; i < CLI_NOPTS; i++) {
        if (cli_code(i) != c)
            continue;
        cli_opt_name(name, sizeof(name), &cli_opts[i]);
        hint = cli_opts[i].shrt
                   ? nk__hint_nc_option(s->command == NK_CMD_CONNECT, c)
                   : NULL;
        if (!(cli_opts[i].cmds & (1u << s->command)) && hint != NULL)
            return nk__err_set(err, "option %s does not apply to '%s' (%s)",
                               name, cmd, hint);
        if (!(cli_opts[i].cmds & (1u << s->command)))
            return nk__err_set(err,
                               "option %s does not apply to '%s' (see "
                               "'netkit %s --help')",
                               name, cmd, cmd);
        why = cli_opts[i].set(s, optarg);
        if (why != NULL && hint != NULL && c == 'n')
            return nk__err_set(err, "option %s: %s (%s)", name, why, hint);
        if (why != NULL)
            return nk__err_set(err, "option %s: %s", name, why);
        return 0;
    }
    return nk__err_set(err, "unhandled option");
}

int
nk__cli_parse(struct nk__settings *s, int argc, char **argv, struct nk_err *err)
{
    struct option lo[CLI_NOPTS + 1];
    char so[2 * CLI_NOPTS + 2];
    const char *word = argc > 1 ? argv[1] : NULL;
    int c;

    if (word == NULL || strcmp(word, "--help") == 0 ||
        strcmp(word, "-h") == 0) {
        s->command = NK_CMD_HELP;
        return word == NULL ? nk__err_set(err, "no command given (see "
                                               "'netkit --help')")
                            : 0;
    }
    if (strcmp(word, "--version") == 0 || strcmp(word, "-V") == 0) {
        s->command = NK_CMD_VERSION;
        return 0;
    }
    for (size_t i = 0; i < CLI_NCMDS; i++)
        if (strcmp(word, cli_cmds[i].name) == 0)
            s->command = cli_cmds[i].cmd;
    if (s->command == NK_CMD_NONE)
        return nk__err_set(err,
                           "unknown command '%s' (expected serve, "
                           "connect, plugins, sockopts or check)",
                           word);
    cli_build(lo, so);
    cli_count_set = 0;
    opterr = 0;
    /* 0, not 1: glibc then forgets where it stopped in a group of short
     * options ("-4zu" refused at z) -- a parse after a refused one would
     * otherwise go on from inside the old argv. */
    optind = 0;
    while ((c = getopt_long(argc - 1, argv + 1, so, lo, NULL)) != -1) {
        enum nk__command cmd = s->command;
        if (cli_one(s, c, argv + 1, err) < 0)
            return -1;
        if (s->command == NK_CMD_HELP) {
            /* `netkit serve --help`: that command's help. */
            s->command = cmd;
            s->help = 1;
            return 0;
        }
    }
    return cli_positional(s, argc - 1 - optind, argv + 1 + optind, err);
}
