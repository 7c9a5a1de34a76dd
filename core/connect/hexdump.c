/*
 * hexdump.c -- both directions in hex on stderr.  See hexdump.h.
 *
 * One connection per process and one thread, so the state is static.  Each
 * call prints whole lines of the bytes it is given (a line does not wait
 * for the next call's bytes), so the lines of the two directions interleave
 * in the order the bytes moved.
 */
#include "connect/hexdump.h"

#include <stdio.h>

static int hexdump_on;
static uint64_t hexdump_off[2]; /* bytes dumped so far: sent, received */

void
nk__hexdump_enable(void)
{
    hexdump_on = 1;
}

static void
hexdump_line(char dir, uint64_t off, const uint8_t *p, size_t n)
{
    char hex[16 * 3 + 2], text[17];
    size_t h = 0;

    for (size_t i = 0; i < 16; i++) {
        if (i == 8)
            hex[h++] = ' ';
        if (i < n)
            h += (size_t)snprintf(hex + h, sizeof(hex) - h, "%02x ", p[i]);
        else
            h += (size_t)snprintf(hex + h, sizeof(hex) - h, "   ");
        text[i] =
            i < n ? (p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.') : '\0';
    }
    text[16] = '\0';
    fprintf(stderr, "%c %08llx  %s |%s|\n", dir, (unsigned long long)off, hex,
            text);
}

static void
hexdump(int which, const uint8_t *p, size_t n)
{
    if (!hexdump_on)
        return;
    for (size_t i = 0; i < n; i += 16) {
        size_t len = n - i < 16 ? n - i : 16;

        hexdump_line(which == 0 ? '>' : '<', hexdump_off[which], p + i, len);
        hexdump_off[which] += len;
    }
    fflush(stderr);
}

void
nk__hexdump_sent(const uint8_t *p, size_t n)
{
    hexdump(0, p, n);
}

void
nk__hexdump_received(const uint8_t *p, size_t n)
{
    hexdump(1, p, n);
}
