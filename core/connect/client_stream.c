/*
 * client_stream.c -- `netkit connect --stream`.  See client_stream.h.
 *
 * The shape of OpenBSD nc's readwrite(): one poll over stdin, the socket and
 * stdout, one chunk in flight each way.  The socket is non-blocking; stdin
 * and stdout keep whatever mode they came with (they may be shared with a
 * shell), so they are only read after POLLIN and written after POLLOUT.
 */
#include "connect/client_stream.h"

#include <sys/socket.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "connect/hexdump.h"

#define CLIENT_PIPE_BUF 65536 /* bytes in flight each way */

/* Bytes read but not yet written: data[off, off + len). */
struct client_chunk {
    uint8_t *data;
    size_t off, len;
};

static int64_t
client_stream_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write what `ch` holds to fd (socket: send without SIGPIPE).  Returns 0,
 * or -1 with errno (EAGAIN included). */
static int
client_chunk_write(struct client_chunk *ch, int fd, int sock)
{
    ssize_t w;

    do {
        if (sock)
            w = send(fd, ch->data + ch->off, ch->len, MSG_NOSIGNAL);
        else
            w = write(fd, ch->data + ch->off, ch->len);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return -1;
    if (sock)
        nk__hexdump_sent(ch->data + ch->off, (size_t)w);
    ch->off += (size_t)w;
    ch->len -= (size_t)w;
    return 0;
}

/* Read into an empty `ch`.  Returns bytes read, 0 at end of input, or -1
 * with errno. */
static ssize_t
client_chunk_read(struct client_chunk *ch, int fd, int sock)
{
    ssize_t r;

    do {
        r = sock ? recv(fd, ch->data, CLIENT_PIPE_BUF, 0)
                 : read(fd, ch->data, CLIENT_PIPE_BUF);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
        ch->off = 0;
        ch->len = (size_t)r;
        if (sock)
            nk__hexdump_received(ch->data, (size_t)r);
    }
    return r;
}

/*
 * -C: every LF of a chunk just read that does not follow a CR becomes CR
 * LF, in place (the buffer holds twice CLIENT_PIPE_BUF).  *cr carries
 * "the last byte was a CR" from one chunk to the next.
 */
static void
client_chunk_crlf(struct client_chunk *ch, int *cr)
{
    size_t add = 0, j;
    int last = *cr;

    for (size_t i = 0; i < ch->len; i++) {
        if (ch->data[i] == '\n' && !last)
            add++;
        last = ch->data[i] == '\r';
    }
    j = ch->len + add;
    for (size_t i = ch->len; i-- > 0;) {
        int prev_cr = i > 0 ? ch->data[i - 1] == '\r' : *cr;

        ch->data[--j] = ch->data[i];
        if (ch->data[i] == '\n' && !prev_cr)
            ch->data[--j] = '\r';
    }
    ch->len += add;
    *cr = last;
}

/*
 * --stream: a full-duplex byte pipe, stdin -> socket and socket -> stdout,
 * like nc's readwrite().  Each direction holds at most one chunk and reads
 * its source only when that chunk has been written out, so a slow side
 * slows the other down instead of filling memory (back-pressure).  A
 * descriptor with nothing to do is left out of poll (fd -1), so a hung-up
 * one cannot make poll spin.  End of input half-closes the socket; the pipe
 * ends when the peer closes and what it sent has been written.
 *
 * With an idle limit (idle_ms > 0), every byte read or written in either
 * direction restarts the clock; when it runs out the pipe ends with an
 * error, as nc -w does for a connection that went quiet.
 */
static int
client_stream_loop(int fd, const char *peer, double idle, int idle_ms,
                   struct client_chunk *up, struct client_chunk *down,
                   int in_eof, int crlf, struct nk_err *err)
{
    int net_eof = 0, shut = 0, cr = 0;
    int64_t moved = client_stream_now_ms();

    while (!net_eof || down->len > 0) {
        short sev = (short)((up->len > 0 ? POLLOUT : 0) |
                            (!net_eof && down->len == 0 ? POLLIN : 0));
        struct pollfd p[3] = {
            {.fd = !in_eof && up->len == 0 ? STDIN_FILENO : -1,
             .events = POLLIN},
            {.fd = sev != 0 ? fd : -1, .events = sev},
            {.fd = down->len > 0 ? STDOUT_FILENO : -1, .events = POLLOUT},
        };
        size_t up_len = up->len, down_len = down->len;
        int wait = -1, rc;
        ssize_t r;

        if (in_eof && up->len == 0 && !shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
        }
        if (idle_ms > 0) {
            int64_t left = moved + idle_ms - client_stream_now_ms();

            if (left <= 0)
                return nk__err_run(err, "no byte to or from %s for %gs", peer,
                                   idle);
            wait = left > INT_MAX ? INT_MAX : (int)left;
        }
        rc = poll(p, 3, wait);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return nk__err_run(err, "poll: %s", strerror(errno));
        }
        if (p[0].revents != 0) {
            r = client_chunk_read(up, STDIN_FILENO, 0);
            if (r > 0 && crlf)
                client_chunk_crlf(up, &cr);
            if (r > 0)
                moved = client_stream_now_ms();
            if (r == 0)
                in_eof = 1;
            else if (r < 0 && errno != EAGAIN)
                return nk__err_run(err, "read standard input: %s",
                                   strerror(errno));
        }
        if ((p[1].revents & (POLLOUT | POLLERR | POLLHUP)) && up->len > 0 &&
            client_chunk_write(up, fd, 1) < 0 && errno != EAGAIN) {
            if (errno != EPIPE && errno != ECONNRESET)
                return nk__err_run(err, "send to %s: %s", peer,
                                   strerror(errno));
            /* The peer stopped reading for good: drop our side, say so, and
             * still take what it sent before it closed. */
            nk__log(NK_LOG_WARN, "%s closed before reading all input", peer);
            up->len = 0;
            in_eof = shut = 1;
        }
        if ((p[1].revents & (POLLIN | POLLERR | POLLHUP)) && !net_eof &&
            down->len == 0) {
            r = client_chunk_read(down, fd, 1);
            /* A reset ends the stream like a close: no more is coming. */
            if (r > 0)
                moved = client_stream_now_ms();
            if (r == 0 || (r < 0 && errno == ECONNRESET))
                net_eof = 1;
            else if (r < 0 && errno != EAGAIN)
                return nk__err_run(err, "recv from %s: %s", peer,
                                   strerror(errno));
        }
        if (p[2].revents != 0 &&
            client_chunk_write(down, STDOUT_FILENO, 0) < 0 && errno != EAGAIN)
            return nk__err_run(err, "write to standard output: %s",
                               strerror(errno));
        /* A chunk that shrank is bytes written to the socket or stdout. */
        if (up->len < up_len || down->len < down_len)
            moved = client_stream_now_ms();
    }
    return 0;
}

/* See client_stream.h. */
int
nk__client_stream(int fd, const char *peer, double idle,
                  const struct nk__client_pre *pre, struct nk_err *err)
{
    double ms = idle * 1000.0;
    int idle_ms = idle <= 0 ? 0 : ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : (int)ms;
    size_t nup = pre != NULL ? pre->up_len : 0;
    size_t ndown = pre != NULL ? pre->down_len : 0;
    /* A chunk is read into with CLIENT_PIPE_BUF (and -C may double it);
     * what goes first may be longer, so the buffer is at least that. */
    int crlf = pre != NULL && pre->crlf;
    size_t ucap = crlf ? 2 * CLIENT_PIPE_BUF : CLIENT_PIPE_BUF;
    struct client_chunk up = {nk__malloc(nup > ucap ? nup : ucap), 0, nup};
    struct client_chunk down = {
        nk__malloc(ndown > CLIENT_PIPE_BUF ? ndown : CLIENT_PIPE_BUF), 0,
        ndown};
    int rc = -1;

    if (up.data == NULL || down.data == NULL) {
        nk__err_run(err, "out of memory");
    } else {
        if (nup > 0)
            memcpy(up.data, pre->up, nup);
        if (ndown > 0)
            memcpy(down.data, pre->down, ndown);
        rc = client_stream_loop(fd, peer, idle, idle_ms, &up, &down,
                                pre != NULL && pre->up_eof, crlf, err);
    }
    nk__free(up.data);
    nk__free(down.data);
    return rc;
}
