/* The per-loop state of uv_signal_t (compat/signal.c), a member of the
 * loop's bio_uv_loop (loop.h). */
#ifndef BIO_COMPAT_SIGNAL_H
#define BIO_COMPAT_SIGNAL_H

#include "internal.h"

typedef struct bio_signal_loop {
  /* This loop's started uv_signal_t handles, and its slot in the
   * process-wide signal table (index + 1; 0: none taken yet). */
  bio_qlink handles;
  int slot;
} bio_signal_loop;

#endif
