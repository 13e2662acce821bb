/* What uv_close needs from the UDP handle (compat/udp.c). */
#ifndef BIO_COMPAT_UDP_H
#define BIO_COMPAT_UDP_H

#include "uv.h"

/* Stops the handle and cancels its ops. Returns 0 when the handle may go
 * on the closing list now, 1 when ops are still out: udp.c then puts it
 * there itself once they are back (its close callback must not run
 * before). */
int bio__udp_close(uv_udp_t *h);

/* 1 while the handle watches its socket (receives, or waits to send):
 * only then is the descriptor in use for uv_*_open. */
int bio__udp_watching(const uv_udp_t *h);

#endif
