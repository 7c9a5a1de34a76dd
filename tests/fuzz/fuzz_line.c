/*
 * fuzz_line.c -- the line plugin: any prefix and exit word (a newline in
 * either is refused by create, as at start-up), either reply ending, a
 * small or the default max_line, and any bytes, over TCP and UDP.
 *
 * Input: byte 0 bit 0 chooses UDP, bit 1 eol=crlf, bit 2 a max_line of 1 +
 * byte 3 (else the default); byte 1 the prefix's length and byte 2 the exit
 * word's (each mod 16), taken from the bytes after byte 3; the rest is the
 * stream (or the datagram).
 */
#include <stdio.h>

#include "fuzz_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_opt over[4];
    char max_line[8];
    size_t np, nx, off = 4, n = 0;
    unsigned transport;

    if (size < 4)
        return 0;
    transport = (data[0] & 1) ? NK_TRANSPORT_UDP : NK_TRANSPORT_TCP;
    np = data[1] % 16;
    nx = data[2] % 16;
    if (size < off + np + nx)
        return 0;
    over[n++] = (struct fz_opt){"prefix", (const char *)data + off, np};
    over[n++] = (struct fz_opt){"exit_word", (const char *)data + off + np, nx};
    if (data[0] & 2)
        over[n++] = (struct fz_opt){"eol", "crlf", 4};
    if (data[0] & 4) {
        int len = snprintf(max_line, sizeof(max_line), "%d", 1 + data[3]);
        over[n++] = (struct fz_opt){"max_line", max_line, (size_t)len};
    }
    off += np + nx;
    if (fz_create(over, n, transport) != 0)
        return 0; /* refused, as the host would at start-up */
    if (transport == NK_TRANSPORT_UDP)
        fz_serve_datagram(data + off, size - off);
    else
        fz_serve_stream(data + off, size - off, transport);
    fz_destroy();
    return 0;
}
