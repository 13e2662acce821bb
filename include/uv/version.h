/* blitz-io: the libuv release whose ABI we reproduce.
 * Programs test these numbers at compile time (UV_VERSION_HEX >= ...) and
 * uv_version() reports the same triple at run time, so both must say 1.44.2.
 */

#ifndef UV_VERSION_H
#define UV_VERSION_H

/* A release build: uv_version_string() has no "-dev"/"-pre" suffix. */
#define UV_VERSION_SUFFIX ""
#define UV_VERSION_IS_RELEASE 1

#define UV_VERSION_PATCH 1
#define UV_VERSION_MINOR 52
#define UV_VERSION_MAJOR 1

/* One byte each, major in the high one: 0x013401 for 1.52.1. */
#define UV_VERSION_HEX \
  (UV_VERSION_MAJOR * 0x10000 + UV_VERSION_MINOR * 0x100 + UV_VERSION_PATCH)

#endif /* UV_VERSION_H */
