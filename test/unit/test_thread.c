/* Unit tests for compat/thread.c: threads, mutexes, rwlocks, semaphores,
 * condition variables, barriers, once and thread-local keys. No test asserts
 * a duration; waits are ordered by flags and semaphores instead. */

#define _GNU_SOURCE /* pthread_getattr_np */
#include "uv.h"

#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "check_run.h"

/* ---- threads ------------------------------------------------------------ */

struct thread_probe {
  uv_thread_t seen_self;
  size_t stack_bytes;
  int ran;
};


static void probe_entry(void *arg) {
  struct thread_probe *p = arg;
  pthread_attr_t attr;

  p->seen_self = uv_thread_self();
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstacksize(&attr, &p->stack_bytes);
    pthread_attr_destroy(&attr);
  }
  p->ran = 1;
}


START_TEST(thread_create_join_self_equal) {
  struct thread_probe p = { 0 };
  uv_thread_t tid;
  uv_thread_t me = uv_thread_self();

  ck_assert_int_eq(uv_thread_create(&tid, probe_entry, &p), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(p.ran, 1);
  ck_assert_int_ne(uv_thread_equal(&tid, &p.seen_self), 0);
  ck_assert_int_eq(uv_thread_equal(&me, &p.seen_self), 0);
  ck_assert_int_ne(uv_thread_equal(&me, &me), 0);
}
END_TEST


START_TEST(thread_create_rejects_bad_args) {
  uv_thread_t tid;

  ck_assert_int_eq(uv_thread_create(NULL, probe_entry, NULL), UV_EINVAL);
  ck_assert_int_eq(uv_thread_create(&tid, NULL, NULL), UV_EINVAL);
}
END_TEST


START_TEST(thread_create_ex_stack_size) {
  static const size_t requests[] = { 1, 65536 + 1, 3u << 20 };
  uv_thread_options_t opts;
  struct thread_probe p;
  uv_thread_t tid;
  size_t i;

  for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
    p = (struct thread_probe) { 0 };
    opts.flags = UV_THREAD_HAS_STACK_SIZE;
    opts.stack_size = requests[i];
    ck_assert_int_eq(uv_thread_create_ex(&tid, &opts, probe_entry, &p), 0);
    ck_assert_int_eq(uv_thread_join(&tid), 0);
    ck_assert_int_eq(p.ran, 1);
    /* Rounded up to whole pages and to at least PTHREAD_STACK_MIN. */
    ck_assert_uint_ge(p.stack_bytes, requests[i]);
    ck_assert_uint_ge(p.stack_bytes, (size_t) PTHREAD_STACK_MIN);
  }

  /* No flag: stack_size is ignored and the default applies. */
  p = (struct thread_probe) { 0 };
  opts.flags = UV_THREAD_NO_FLAGS;
  opts.stack_size = 1;
  ck_assert_int_eq(uv_thread_create_ex(&tid, &opts, probe_entry, &p), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_uint_ge(p.stack_bytes, (size_t) 65536);
}
END_TEST


/* ---- mutexes ------------------------------------------------------------ */

static uv_mutex_t shared_mutex;
static int trylock_result;


static void trylock_entry(void *arg) {
  (void) arg;
  trylock_result = uv_mutex_trylock(&shared_mutex);
  if (trylock_result == 0)
    uv_mutex_unlock(&shared_mutex);
}


START_TEST(mutex_lock_trylock) {
  uv_thread_t tid;

  ck_assert_int_eq(uv_mutex_init(&shared_mutex), 0);
  ck_assert_int_eq(uv_mutex_trylock(&shared_mutex), 0);

  /* Held here: another thread must see it busy. */
  ck_assert_int_eq(uv_thread_create(&tid, trylock_entry, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(trylock_result, UV_EBUSY);
  uv_mutex_unlock(&shared_mutex);

  ck_assert_int_eq(uv_thread_create(&tid, trylock_entry, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(trylock_result, 0);

  uv_mutex_lock(&shared_mutex);
  uv_mutex_unlock(&shared_mutex);
  uv_mutex_destroy(&shared_mutex);
}
END_TEST


START_TEST(mutex_recursive) {
  uv_thread_t tid;

  ck_assert_int_eq(uv_mutex_init_recursive(&shared_mutex), 0);
  uv_mutex_lock(&shared_mutex);
  uv_mutex_lock(&shared_mutex);
  ck_assert_int_eq(uv_mutex_trylock(&shared_mutex), 0);
  uv_mutex_unlock(&shared_mutex);
  uv_mutex_unlock(&shared_mutex);

  /* Still held once: other threads are locked out. */
  ck_assert_int_eq(uv_thread_create(&tid, trylock_entry, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(trylock_result, UV_EBUSY);

  uv_mutex_unlock(&shared_mutex);
  uv_mutex_destroy(&shared_mutex);
}
END_TEST


START_TEST(mutex_init_null) {
  ck_assert_int_eq(uv_mutex_init(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_mutex_init_recursive(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_rwlock_init(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_cond_init(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_sem_init(NULL, 0), UV_EINVAL);
  ck_assert_int_eq(uv_key_create(NULL), UV_EINVAL);
}
END_TEST


/* ---- rwlocks ------------------------------------------------------------ */

static uv_rwlock_t shared_rwlock;
static int try_rd_result;
static int try_wr_result;


static void rwlock_probe_entry(void *arg) {
  (void) arg;
  try_rd_result = uv_rwlock_tryrdlock(&shared_rwlock);
  if (try_rd_result == 0)
    uv_rwlock_rdunlock(&shared_rwlock);
  try_wr_result = uv_rwlock_trywrlock(&shared_rwlock);
  if (try_wr_result == 0)
    uv_rwlock_wrunlock(&shared_rwlock);
}


START_TEST(rwlock_readers_and_writer) {
  uv_thread_t tid;

  ck_assert_int_eq(uv_rwlock_init(&shared_rwlock), 0);

  /* A reader admits other readers but no writer. */
  uv_rwlock_rdlock(&shared_rwlock);
  ck_assert_int_eq(uv_thread_create(&tid, rwlock_probe_entry, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(try_rd_result, 0);
  ck_assert_int_eq(try_wr_result, UV_EBUSY);
  uv_rwlock_rdunlock(&shared_rwlock);

  /* A writer admits nobody. */
  uv_rwlock_wrlock(&shared_rwlock);
  ck_assert_int_eq(uv_thread_create(&tid, rwlock_probe_entry, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(try_rd_result, UV_EBUSY);
  ck_assert_int_eq(try_wr_result, UV_EBUSY);
  uv_rwlock_wrunlock(&shared_rwlock);

  /* Free again. */
  ck_assert_int_eq(uv_rwlock_trywrlock(&shared_rwlock), 0);
  uv_rwlock_wrunlock(&shared_rwlock);
  uv_rwlock_destroy(&shared_rwlock);
}
END_TEST


/* ---- semaphores --------------------------------------------------------- */

static uv_sem_t ping;
static uv_sem_t pong;


static void sem_echo_entry(void *arg) {
  int rounds = *(int *) arg;

  while (rounds-- > 0) {
    uv_sem_wait(&ping);
    uv_sem_post(&pong);
  }
}


START_TEST(sem_counts_and_ping_pong) {
  uv_thread_t tid;
  int rounds = 1000;
  int i;

  ck_assert_int_eq(uv_sem_init(&ping, 2), 0);
  ck_assert_int_eq(uv_sem_trywait(&ping), 0);
  ck_assert_int_eq(uv_sem_trywait(&ping), 0);
  ck_assert_int_eq(uv_sem_trywait(&ping), UV_EAGAIN);
  uv_sem_post(&ping);
  ck_assert_int_eq(uv_sem_trywait(&ping), 0);

  ck_assert_int_eq(uv_sem_init(&pong, 0), 0);
  ck_assert_int_eq(uv_thread_create(&tid, sem_echo_entry, &rounds), 0);
  for (i = 0; i < 1000; i++) {
    uv_sem_post(&ping);
    uv_sem_wait(&pong);
  }
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_int_eq(uv_sem_trywait(&pong), UV_EAGAIN);
  uv_sem_destroy(&ping);
  uv_sem_destroy(&pong);
}
END_TEST


/* ---- condition variables ------------------------------------------------ */

static uv_mutex_t cond_mutex;
static uv_cond_t cond;
static int cond_flag;


static void cond_signal_entry(void *arg) {
  (void) arg;
  uv_mutex_lock(&cond_mutex);
  cond_flag = 1;
  uv_cond_signal(&cond);
  uv_mutex_unlock(&cond_mutex);
}


START_TEST(cond_timedwait_times_out) {
  ck_assert_int_eq(uv_mutex_init(&cond_mutex), 0);
  ck_assert_int_eq(uv_cond_init(&cond), 0);
  uv_mutex_lock(&cond_mutex);
  /* Nobody signals; a spurious wakeup would be a 0, so retry on 0. */
  while (uv_cond_timedwait(&cond, &cond_mutex, 1000000) == 0)
    continue;
  ck_assert_int_eq(uv_cond_timedwait(&cond, &cond_mutex, 0), UV_ETIMEDOUT);
  uv_mutex_unlock(&cond_mutex);
  uv_cond_destroy(&cond);
  uv_mutex_destroy(&cond_mutex);
}
END_TEST


START_TEST(cond_timedwait_signalled) {
  uv_thread_t tid;
  int rc = 0;

  ck_assert_int_eq(uv_mutex_init(&cond_mutex), 0);
  ck_assert_int_eq(uv_cond_init(&cond), 0);
  cond_flag = 0;
  uv_mutex_lock(&cond_mutex);
  ck_assert_int_eq(uv_thread_create(&tid, cond_signal_entry, NULL), 0);
  /* An hour-long timeout: the signal is what must end the wait. */
  while (!cond_flag) {
    rc = uv_cond_timedwait(&cond, &cond_mutex, 3600ull * 1000000000ull);
    ck_assert_int_eq(rc, 0);
  }
  uv_mutex_unlock(&cond_mutex);
  ck_assert_int_eq(uv_thread_join(&tid), 0);

  /* A huge timeout must not overflow into "already expired". */
  cond_flag = 0;
  uv_mutex_lock(&cond_mutex);
  ck_assert_int_eq(uv_thread_create(&tid, cond_signal_entry, NULL), 0);
  while (!cond_flag)
    ck_assert_int_eq(uv_cond_timedwait(&cond, &cond_mutex, UINT64_MAX), 0);
  uv_mutex_unlock(&cond_mutex);
  ck_assert_int_eq(uv_thread_join(&tid), 0);

  uv_cond_destroy(&cond);
  uv_mutex_destroy(&cond_mutex);
}
END_TEST


START_TEST(cond_broadcast_wakes_all) {
  uv_thread_t tids[3];
  int i;

  ck_assert_int_eq(uv_mutex_init(&cond_mutex), 0);
  ck_assert_int_eq(uv_cond_init(&cond), 0);
  cond_flag = 0;
  uv_mutex_lock(&cond_mutex);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_thread_create(&tids[i], cond_signal_entry, NULL), 0);
  while (!cond_flag)
    uv_cond_wait(&cond, &cond_mutex);
  uv_cond_broadcast(&cond);
  uv_mutex_unlock(&cond_mutex);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_thread_join(&tids[i]), 0);
  uv_cond_destroy(&cond);
  uv_mutex_destroy(&cond_mutex);
}
END_TEST


/* ---- barriers ----------------------------------------------------------- */

#define BARRIER_THREADS 6

static uv_barrier_t barrier;
static int barrier_results[BARRIER_THREADS];


static void barrier_entry(void *arg) {
  int *slot = arg;

  *slot = uv_barrier_wait(&barrier);
}


START_TEST(barrier_one_serial_thread) {
  uv_thread_t tids[BARRIER_THREADS];
  int round;
  int serial;
  int i;

  ck_assert_int_eq(uv_barrier_init(&barrier, BARRIER_THREADS), 0);
  /* Barriers are reusable; each generation elects exactly one. */
  for (round = 0; round < 3; round++) {
    for (i = 0; i < BARRIER_THREADS; i++)
      ck_assert_int_eq(uv_thread_create(&tids[i], barrier_entry,
                                        &barrier_results[i]), 0);
    serial = 0;
    for (i = 0; i < BARRIER_THREADS; i++) {
      ck_assert_int_eq(uv_thread_join(&tids[i]), 0);
      ck_assert_int_ge(barrier_results[i], 0);
      if (barrier_results[i] > 0)
        serial++;
    }
    ck_assert_int_eq(serial, 1);
  }
  uv_barrier_destroy(&barrier);
}
END_TEST


START_TEST(barrier_rejects_zero) {
  ck_assert_int_eq(uv_barrier_init(&barrier, 0), UV_EINVAL);
  ck_assert_int_eq(uv_barrier_init(NULL, 1), UV_EINVAL);
  ck_assert_int_eq(uv_barrier_init(&barrier, 1), 0);
  ck_assert_int_gt(uv_barrier_wait(&barrier), 0);
  uv_barrier_destroy(&barrier);
}
END_TEST


/* ---- once and keys ------------------------------------------------------ */

static uv_once_t once_guard = UV_ONCE_INIT;
static int once_calls;


static void once_cb(void) {
  once_calls++;
}


static void once_entry(void *arg) {
  (void) arg;
  uv_once(&once_guard, once_cb);
}


START_TEST(once_runs_once) {
  uv_thread_t tids[4];
  int i;

  for (i = 0; i < 4; i++)
    ck_assert_int_eq(uv_thread_create(&tids[i], once_entry, NULL), 0);
  uv_once(&once_guard, once_cb);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(uv_thread_join(&tids[i]), 0);
  ck_assert_int_eq(once_calls, 1);
}
END_TEST


static uv_key_t key;
static void *key_seen_by_thread;


static void key_entry(void *arg) {
  key_seen_by_thread = uv_key_get(&key);
  uv_key_set(&key, arg);
  if (uv_key_get(&key) != arg)
    key_seen_by_thread = (void *) &key; /* flag a mismatch */
}


START_TEST(key_is_per_thread) {
  static int mine;
  static int theirs;
  uv_thread_t tid;

  ck_assert_int_eq(uv_key_create(&key), 0);
  ck_assert_ptr_null(uv_key_get(&key));
  uv_key_set(&key, &mine);
  ck_assert_ptr_eq(uv_key_get(&key), &mine);

  key_seen_by_thread = &mine;
  ck_assert_int_eq(uv_thread_create(&tid, key_entry, &theirs), 0);
  ck_assert_int_eq(uv_thread_join(&tid), 0);
  ck_assert_ptr_null(key_seen_by_thread);
  ck_assert_ptr_eq(uv_key_get(&key), &mine);
  uv_key_delete(&key);
}
END_TEST


static Suite *thread_suite(void) {
  Suite *s = suite_create("thread");
  TCase *tc = tcase_create("core");

  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, thread_create_join_self_equal);
  tcase_add_test(tc, thread_create_rejects_bad_args);
  tcase_add_test(tc, thread_create_ex_stack_size);
  tcase_add_test(tc, mutex_lock_trylock);
  tcase_add_test(tc, mutex_recursive);
  tcase_add_test(tc, mutex_init_null);
  tcase_add_test(tc, rwlock_readers_and_writer);
  tcase_add_test(tc, sem_counts_and_ping_pong);
  tcase_add_test(tc, cond_timedwait_times_out);
  tcase_add_test(tc, cond_timedwait_signalled);
  tcase_add_test(tc, cond_broadcast_wakes_all);
  tcase_add_test(tc, barrier_one_serial_thread);
  tcase_add_test(tc, barrier_rejects_zero);
  tcase_add_test(tc, once_runs_once);
  tcase_add_test(tc, key_is_per_thread);
  suite_add_tcase(s, tc);
  return s;
}


int main(void) {
  return bio_check_run(thread_suite());
}
