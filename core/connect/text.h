/*
 * text.h -- what the client knows about text: well-formed UTF-8, and
 * whether a block of standard input looks like text or like a binary file.
 */
#ifndef NK_CORE_TEXT_H
#define NK_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The length of the well-formed UTF-8 sequence that starts p[0..n) (RFC
 * 3629: no overlong form, no surrogate, nothing past U+10FFFF) with its code
 * point in *cp, or 0 when none starts there (ASCII included: the caller
 * handles bytes below 0x80 itself).
 */
size_t nk__utf8_len(const uint8_t *p, size_t n, uint32_t *cp);

/*
 * Whether p[0..n), the first block read from standard input, is binary:
 * it holds a NUL byte (the rule of git and grep), or a byte that cannot
 * belong to UTF-8 text.  A multi-byte sequence cut by the block's end is
 * not held against it.
 */
int nk__text_is_binary(const uint8_t *p, size_t n);

#endif /* NK_CORE_TEXT_H */
