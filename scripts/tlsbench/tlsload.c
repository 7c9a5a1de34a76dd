/*
 * tlsload.c -- TLS load for the manual benchmark of docs/bench.md (not
 * built by CMake, not a test): cc -O2 tlsload.c -lssl -lcrypto -lpthread
 *
 *   tlsload hs PORT THREADS SECONDS    full handshakes (no ticket, no
 *                                      cache), each with a 1-byte echo
 *   tlsload bulk PORT CONNS SECONDS    64 KiB ping-pong on each connection
 *
 * Prints handshakes/s, or MB/s counting both directions.  Loopback only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define CHUNK 65536

static int port, secs, bulk;
static SSL_CTX *ctx;

static double
now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static SSL *
dial(int *fdp)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    SSL *s;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("connect");
        exit(1);
    }
    s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    if (SSL_connect(s) != 1) {
        fprintf(stderr, "tlsload: handshake failed\n");
        exit(1);
    }
    *fdp = fd;
    return s;
}

static void *
run(void *arg)
{
    unsigned long long *count = arg;
    double end = now() + secs;
    char *buf = malloc(CHUNK), *rb = malloc(CHUNK);
    int fd;
    SSL *s;

    if (!bulk) {
        while (now() < end) {
            char c = 'x';
            s = dial(&fd);
            if (SSL_write(s, &c, 1) != 1 || SSL_read(s, &c, 1) != 1) {
                fprintf(stderr, "tlsload: no echo\n");
                exit(1);
            }
            SSL_shutdown(s);
            SSL_free(s);
            close(fd);
            (*count)++;
        }
    } else {
        s = dial(&fd);
        memset(buf, 'b', CHUNK);
        while (now() < end) {
            size_t got = 0;
            if (SSL_write(s, buf, CHUNK) != CHUNK)
                exit(2);
            while (got < CHUNK) {
                int n = SSL_read(s, rb, CHUNK);
                if (n <= 0)
                    exit(3);
                got += (size_t)n;
            }
            *count += 2 * got;
        }
        SSL_free(s);
        close(fd);
    }
    free(buf);
    free(rb);
    return NULL;
}

int
main(int argc, char **argv)
{
    pthread_t t[256];
    unsigned long long c[256] = {0}, total = 0;
    double t0, el;
    int n;

    if (argc < 5 || (n = atoi(argv[3])) < 1 || n > 256)
        return 2;
    bulk = strcmp(argv[1], "hs") != 0;
    port = atoi(argv[2]);
    secs = atoi(argv[4]);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    t0 = now();
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, run, &c[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        total += c[i];
    }
    el = now() - t0;
    if (bulk)
        printf("%.1f MB/s\n", (double)total / el / 1e6);
    else
        printf("%.0f handshakes/s\n", (double)total / el);
    return 0;
}
