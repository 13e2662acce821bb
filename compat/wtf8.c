/* UTF-16 <-> WTF-8 (libuv 1.47's uv_utf16_* and uv_wtf8_*).
 *
 * WTF-8 is UTF-8 extended to carry what UTF-16 strings may hold and UTF-8
 * may not: surrogates that have no partner. A surrogate pair becomes one
 * four-byte sequence, as in UTF-8; a lone surrogate becomes the three-byte
 * sequence of its value. So every UTF-16 string (a Windows path, a
 * JavaScript string) survives the trip there and back. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "compat/internal.h"

static int is_high(uint32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
static int is_low(uint32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }


/* The code point at s[i] (a pair counts as one) and how many units it
 * took. len < 0: s ends at a NUL. */
static uint32_t next_unit(const uint16_t *s, ssize_t len, size_t i,
                          size_t *took) {
  uint32_t u = s[i];
  *took = 1;
  if (is_high(u)) {
    int more = len < 0 ? s[i + 1] != 0 : (ssize_t)(i + 1) < len;
    if (more && is_low(s[i + 1])) {
      *took = 2;
      return 0x10000 + ((u - 0xD800) << 10) + (s[i + 1] - 0xDC00);
    }
  }
  return u;
}


static size_t wtf8_bytes(uint32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}


static char *put_wtf8(char *out, uint32_t cp) {
  switch (wtf8_bytes(cp)) {
  case 1:
    *out++ = (char)cp;
    break;
  case 2:
    *out++ = (char)(0xC0 | (cp >> 6));
    *out++ = (char)(0x80 | (cp & 0x3F));
    break;
  case 3:
    *out++ = (char)(0xE0 | (cp >> 12));
    *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *out++ = (char)(0x80 | (cp & 0x3F));
    break;
  default:
    *out++ = (char)(0xF0 | (cp >> 18));
    *out++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *out++ = (char)(0x80 | (cp & 0x3F));
    break;
  }
  return out;
}


static int at_end(const uint16_t *s, ssize_t len, size_t i) {
  return len < 0 ? s[i] == 0 : (ssize_t)i >= len;
}


UV_EXTERN size_t uv_utf16_length_as_wtf8(const uint16_t *utf16,
                                         ssize_t utf16_len) {
  size_t i = 0, n = 0, took;

  if (utf16 == NULL)
    return 0;
  while (!at_end(utf16, utf16_len, i)) {
    n += wtf8_bytes(next_unit(utf16, utf16_len, i, &took));
    i += took;
  }
  return n;
}


UV_EXTERN int uv_utf16_to_wtf8(const uint16_t *utf16, ssize_t utf16_len,
                               char **wtf8_ptr, size_t *wtf8_len_ptr) {
  size_t need, cap, i = 0, took;
  char *out, *end;

  if (utf16 == NULL && utf16_len != 0)
    return UV_EINVAL;
  need = utf16 == NULL ? 0 : uv_utf16_length_as_wtf8(utf16, utf16_len);
  if (wtf8_ptr == NULL) {
    if (wtf8_len_ptr != NULL)
      *wtf8_len_ptr = need;
    return 0;
  }
  if (*wtf8_ptr == NULL) {
    *wtf8_ptr = bio__malloc(need + 1);
    if (*wtf8_ptr == NULL)
      return UV_ENOMEM;
    cap = need;
  } else {
    if (wtf8_len_ptr == NULL)
      return UV_EINVAL; /* the buffer's size is unknown */
    cap = *wtf8_len_ptr;
  }
  out = *wtf8_ptr;
  end = out + cap; /* the NUL goes at end at the latest */
  while (utf16 != NULL && !at_end(utf16, utf16_len, i)) {
    uint32_t cp = next_unit(utf16, utf16_len, i, &took);
    if ((size_t)(end - out) < wtf8_bytes(cp))
      break; /* only whole sequences */
    out = put_wtf8(out, cp);
    i += took;
  }
  *out = '\0';
  if (wtf8_len_ptr != NULL)
    *wtf8_len_ptr = need > cap ? need : (size_t)(out - *wtf8_ptr);
  return need > cap ? UV_ENOBUFS : 0;
}


/* Decodes one WTF-8 sequence at s: its code point, or -1 for what no
 * encoder writes (a stray continuation byte, a sequence cut short, an
 * overlong form, a value past U+10FFFF). *len: the bytes it took. */
static int32_t next_wtf8(const unsigned char *s, size_t *len) {
  static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
  uint32_t cp;
  size_t n, k;

  if (s[0] < 0x80) {
    *len = 1;
    return s[0];
  }
  if (s[0] >= 0xC2 && s[0] <= 0xDF) {
    n = 2;
    cp = s[0] & 0x1F;
  } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    n = 3;
    cp = s[0] & 0x0F;
  } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    n = 4;
    cp = s[0] & 0x07;
  } else {
    return -1;
  }
  for (k = 1; k < n; k++) {
    if ((s[k] & 0xC0) != 0x80) /* the NUL ends it too */
      return -1;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if (cp < least[n] || cp > 0x10FFFF)
    return -1;
  *len = n;
  return (int32_t)cp;
}


UV_EXTERN ssize_t uv_wtf8_length_as_utf16(const char *wtf8) {
  const unsigned char *s = (const unsigned char *)wtf8;
  ssize_t units = 1; /* the NUL */
  size_t len;
  int32_t cp;

  if (wtf8 == NULL)
    return -1;
  while (*s != 0) {
    cp = next_wtf8(s, &len);
    if (cp < 0)
      return -1;
    units += cp >= 0x10000 ? 2 : 1;
    s += len;
  }
  return units;
}


UV_EXTERN void uv_wtf8_to_utf16(const char *wtf8, uint16_t *utf16,
                                size_t utf16_len) {
  const unsigned char *s = (const unsigned char *)wtf8;
  size_t i = 0, len;
  int32_t cp;

  if (wtf8 == NULL || utf16 == NULL || utf16_len == 0)
    return;
  /* Stops short (always NUL-terminated) at what does not fit or does not
   * decode; uv_wtf8_length_as_utf16 says beforehand if either will. */
  while (*s != 0 && (cp = next_wtf8(s, &len)) >= 0) {
    if (cp >= 0x10000) {
      if (i + 2 >= utf16_len)
        break;
      utf16[i++] = (uint16_t)(0xD800 + ((cp - 0x10000) >> 10));
      utf16[i++] = (uint16_t)(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      if (i + 1 >= utf16_len)
        break;
      utf16[i++] = (uint16_t)cp;
    }
    s += len;
  }
  utf16[i] = 0;
}
