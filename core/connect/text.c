/*
 * text.c -- UTF-8 and the text-or-binary test.  See text.h.
 */
#include "connect/text.h"

size_t
nk__utf8_len(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xbf;
    uint32_t v;
    size_t len;

    if (b >= 0xc2 && b <= 0xdf)
        len = 2, v = b & 0x1fu;
    else if (b >= 0xe0 && b <= 0xef)
        len = 3, v = b & 0x0fu;
    else if (b >= 0xf0 && b <= 0xf4)
        len = 4, v = b & 0x07u;
    else
        return 0;
    if (b == 0xe0)
        lo = 0xa0; /* no overlong 3-byte form */
    else if (b == 0xed)
        hi = 0x9f; /* no surrogate */
    else if (b == 0xf0)
        lo = 0x90; /* no overlong 4-byte form */
    else if (b == 0xf4)
        hi = 0x8f; /* nothing past U+10FFFF */
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        uint8_t min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;

        if (p[i] < min || p[i] > max)
            return 0;
        v = v << 6 | (p[i] & 0x3fu);
    }
    *cp = v;
    return len;
}

int
nk__text_is_binary(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len;

        if (p[i] == 0)
            return 1;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        len = nk__utf8_len(p + i, n - i, &cp);
        if (len == 0) {
            /* Cut by the end of the block: the rest may be in the next. */
            size_t want = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;

            if (p[i] >= 0xc2 && p[i] <= 0xf4 && n - i < want) {
                size_t j = i + 1;

                while (j < n && (p[j] & 0xc0) == 0x80)
                    j++;
                if (j == n)
                    return 0;
            }
            return 1;
        }
        i += len;
    }
    return 0;
}
