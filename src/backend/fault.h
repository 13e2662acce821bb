/* Test-only controls of the fault-injecting backend (BIO_BACKEND=fault:X). */
#ifndef BIO_BACKEND_FAULT_H
#define BIO_BACKEND_FAULT_H

#include "core/core.h"

/* After skip_n more submissions succeed, the next fail_n fail with -err
 * (err is a positive errno: ENOMEM, EAGAIN, EBUSY). */
int bio__fault_inject(bio_loop *loop, int err, unsigned skip_n,
                      unsigned fail_n);
unsigned bio__fault_injected(bio_loop *loop);
/* The next n submissions of a READ, WRITE, RECV or SEND of more than one
 * byte go down with half their length (the owner's op is as it was when
 * it completes): short reads and writes, on purpose. */
int bio__fault_short(bio_loop *loop, unsigned n);

#endif
