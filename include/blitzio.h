/* blitzio.h: the native API of blitz-io.
 *
 * This first slice exposes the completion loop underneath the libuv layer:
 * create a loop, wait for completions with a timeout, wake it from another
 * thread. Tasks, channels and the multi-threaded runtime build on it later.
 * Every function is documented in docs/native-api.md. */
#ifndef BLITZIO_H
#define BLITZIO_H

#ifdef __cplusplus
extern "C" {
#endif

#define BIO_EXTERN __attribute__((visibility("default")))

typedef struct bio_loop bio_loop;

/* The library version, "MAJOR.MINOR.PATCH". */
BIO_EXTERN const char *bio_version(void);

/* Creates a loop on the best backend (io_uring, else epoll; BIO_BACKEND=
 * uring|epoll overrides). Stores the loop in *loop_out; returns 0 or a
 * negative errno (-EINVAL for a NULL loop_out or an unknown BIO_BACKEND). */
BIO_EXTERN int bio_loop_new(bio_loop **loop_out);

/* How to make a loop (bio_loop_new_ex). Fill with bio_loop_options_init,
 * then set what you want; fields added later keep their zero meaning. */
typedef struct bio_loop_options {
  /* "uring", "epoll", or NULL: BIO_BACKEND if set, else io_uring where
   * the kernel and any seccomp filter allow it, else epoll. A backend
   * named here that can't start makes bio_loop_new_ex fail. */
  const char *backend;
  /* io_uring only: submission and completion queue sizes (rounded up to
   * powers of two by the kernel); 0: 256 and 2048. At most 32768 and
   * 65536; a CQ smaller than the SQ is -EINVAL. */
  unsigned sq_entries;
  unsigned cq_entries;
  /* io_uring only: share this loop's kernel worker pool (io-wq) instead
   * of starting another (IORING_SETUP_ATTACH_WQ): many loops, one pool of
   * kernel threads for blocking work. It must be an io_uring loop, and
   * must outlive nothing of this one's (free it last). NULL: own pool. */
  const bio_loop *attach_wq;
  /* How long the loop may spin for a completion before it sleeps, in
   * microseconds (at most 10000): 0 never spins; -1 (the default):
   * BIO_LOOP_SPIN_US, else 50. */
  int spin_us;
  void *reserved[4]; /* zero */
} bio_loop_options;

/* The defaults: every choice left to the library. */
BIO_EXTERN void bio_loop_options_init(bio_loop_options *opts);

/* bio_loop_new with options (NULL: the defaults). -EINVAL for values out
 * of range, an unknown backend, or attach_wq not on io_uring. */
BIO_EXTERN int bio_loop_new_ex(bio_loop **loop_out,
                               const bio_loop_options *opts);

/* Destroys a loop made by bio_loop_new. NULL is ignored. */
BIO_EXTERN void bio_loop_free(bio_loop *loop);

/* The backend the loop runs on: "uring" or "epoll" (or "fault" in tests). */
BIO_EXTERN const char *bio_loop_backend(const bio_loop *loop);

/* Waits up to timeout_ms (-1: without limit, 0: not at all) for
 * completions or a wake, then runs the callbacks of what completed.
 * Returns the number of callbacks run, or a negative errno. Call it from
 * the loop's thread only. */
BIO_EXTERN int bio_loop_poll(bio_loop *loop, int timeout_ms);

/* Makes a bio_loop_poll in progress (or the next one) return. Safe from
 * any thread and from signal handlers. */
BIO_EXTERN void bio_loop_wake(bio_loop *loop);

/* For programs on the libuv layer: the backend under a uv_loop_t (pass a
 * uv_loop_t *), or NULL if it is not an initialised loop. */
BIO_EXTERN const char *bio_uv_loop_backend(const void *uv_loop);

#ifdef __cplusplus
}
#endif
#endif
