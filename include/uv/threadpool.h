/* blitz-io: the work item embedded in libuv requests that run on a pool.
 * Its shape is ABI (uv_fs_t, uv_work_t, uv_getaddrinfo_t and friends hold
 * one inline), so it stays four words and a queue link, whatever we store.
 */

#ifndef UV_THREADPOOL_H_
#define UV_THREADPOOL_H_

struct uv_loop_s;

struct uv__work {
  /* Runs on a pool thread. */
  void (*work)(struct uv__work* w);
  /* Runs on the loop thread afterwards; status is 0 or UV_ECANCELED. */
  void (*done)(struct uv__work* w, int status);
  struct uv_loop_s* loop;
  void* wq[2]; /* queue link */
};

#endif /* UV_THREADPOOL_H_ */
