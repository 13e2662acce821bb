/* Unit tests of libuv 1.45-1.52's additions outside the loop: clocks,
 * rusage of a thread, memory, passwd and group lookups, thread detach,
 * affinity, CPU, names and priorities, the pool threads' name, statfs's
 * f_frsize, and the UTF-16 <-> WTF-8 conversions. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "uv.h"
#include "backend.h"
#include "check_run.h"

START_TEST(clock_gettime_checks_and_reads) {
  uv_timespec64_t a, b;

  ck_assert_int_eq(uv_clock_gettime(1337, &a), UV_EINVAL);
  ck_assert_int_eq(uv_clock_gettime(UV_CLOCK_MONOTONIC, NULL), UV_EFAULT);
  ck_assert_int_eq(uv_clock_gettime(UV_CLOCK_MONOTONIC, &a), 0);
  uv_sleep(2);
  ck_assert_int_eq(uv_clock_gettime(UV_CLOCK_MONOTONIC, &b), 0);
  ck_assert(b.tv_sec > a.tv_sec ||
            (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec));
  ck_assert_int_lt(b.tv_nsec, 1000000000);
  ck_assert_int_eq(uv_clock_gettime(UV_CLOCK_REALTIME, &a), 0);
  ck_assert_int_gt(a.tv_sec, 1700000000); /* after 2023 */
}
END_TEST

static volatile unsigned long spin_sink;
static void *idle_thread(void *arg) {
  uv_rusage_t ru;
  (void)arg;
  ck_assert_int_eq(uv_getrusage_thread(&ru), 0);
  return (void *)(uintptr_t)(ru.ru_utime.tv_sec * 1000000 +
                             ru.ru_utime.tv_usec);
}

/* The thread's own usage, not the process's: a new thread has used next
 * to nothing while this one burnt CPU. */
START_TEST(getrusage_thread_counts_the_calling_thread) {
  uv_rusage_t self, proc;
  pthread_t t;
  void *other_us;
  unsigned long i;

  ck_assert_int_eq(uv_getrusage_thread(NULL), UV_EINVAL);
  for (i = 0; i < 300000000ul; i++)
    spin_sink += i;
  ck_assert_int_eq(uv_getrusage_thread(&self), 0);
  ck_assert_int_eq(uv_getrusage(&proc), 0);
  ck_assert_int_gt(self.ru_utime.tv_sec * 1000000 + self.ru_utime.tv_usec,
                   50000);
  ck_assert_int_eq(pthread_create(&t, NULL, idle_thread, NULL), 0);
  ck_assert_int_eq(pthread_join(t, &other_us), 0);
  ck_assert_int_lt((long)(uintptr_t)other_us, 50000);
}
END_TEST

START_TEST(available_memory_is_within_total) {
  uint64_t avail = uv_get_available_memory();
  ck_assert_uint_gt(avail, 0);
  ck_assert_uint_le(avail, uv_get_total_memory());
}
END_TEST

/* By uid and gid: root's entries; one allocation each, freed once. */
START_TEST(passwd2_and_group_lookups) {
  uv_passwd_t pwd, me;
  uv_group_t grp;

  ck_assert_int_eq(uv_os_get_passwd2(NULL, 0), UV_EINVAL);
  ck_assert_int_eq(uv_os_get_passwd2(&pwd, 0), 0);
  ck_assert_str_eq(pwd.username, "root");
  ck_assert_uint_eq(pwd.uid, 0);
  ck_assert_uint_gt(strlen(pwd.homedir), 0);
  ck_assert_uint_gt(strlen(pwd.shell), 0);
  uv_os_free_passwd(&pwd);
  ck_assert_ptr_null(pwd.username);
  ck_assert_int_eq(uv_os_get_passwd(&me), 0);
  ck_assert_uint_eq(me.uid, geteuid());
  uv_os_free_passwd(&me);
  /* No such user. */
  ck_assert_int_eq(uv_os_get_passwd2(&pwd, 0x7ffffff0), UV_ENOENT);

  ck_assert_int_eq(uv_os_get_group(NULL, 0), UV_EINVAL);
  ck_assert_int_eq(uv_os_get_group(&grp, 0), 0);
  ck_assert_str_eq(grp.groupname, "root");
  ck_assert_uint_eq(grp.gid, 0);
  ck_assert_ptr_nonnull(grp.members);
  uv_os_free_group(&grp);
  ck_assert_ptr_null(grp.members);
  ck_assert_int_eq(uv_os_get_group(&grp, 0x7ffffff0), UV_ENOENT);
}
END_TEST

static uv_sem_t started, may_end;
static void named_thread(void *arg) {
  (void)arg;
  ck_assert_int_eq(uv_thread_setname("a-name-longer-than-fifteen"), 0);
  uv_sem_post(&started);
  uv_sem_wait(&may_end);
}

/* Names are cut to the kernel's 15 bytes; getname cuts to the buffer. */
START_TEST(thread_names_are_cut_to_fit) {
  uv_thread_t t;
  char name[64];

  ck_assert_int_eq(uv_sem_init(&started, 0), 0);
  ck_assert_int_eq(uv_sem_init(&may_end, 0), 0);
  ck_assert_int_eq(uv_thread_create(&t, named_thread, NULL), 0);
  uv_sem_wait(&started);
  ck_assert_int_eq(uv_thread_getname(&t, name, sizeof(name)), 0);
  ck_assert_str_eq(name, "a-name-longer-t");
  ck_assert_int_eq(uv_thread_getname(&t, name, 3), 0);
  ck_assert_str_eq(name, "a-");
  ck_assert_int_eq(uv_thread_getname(&t, name, 0), UV_EINVAL);
  ck_assert_int_eq(uv_thread_getname(&t, NULL, 8), UV_EINVAL);
  ck_assert_int_eq(uv_thread_setname(NULL), UV_EINVAL);
  uv_sem_post(&may_end);
  ck_assert_int_eq(uv_thread_join(&t), 0);
  uv_sem_destroy(&started);
  uv_sem_destroy(&may_end);
}
END_TEST

static char pool_thread_name[32];
static void name_work(uv_work_t *w) {
  uv_thread_t self = uv_thread_self();
  (void)w;
  ck_assert_int_eq(uv_thread_getname(&self, pool_thread_name,
                                     sizeof(pool_thread_name)),
                   0);
}
static void name_done(uv_work_t *w, int status) {
  (void)w;
  ck_assert_int_eq(status, 0);
}

START_TEST(pool_threads_are_named_libuv_worker) {
  uv_loop_t loop;
  uv_work_t w;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_queue_work(&loop, &w, name_work, name_done), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_str_eq(pool_thread_name, "libuv-worker");
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void detached(void *arg) { uv_sem_post(arg); }

START_TEST(thread_detach_lets_it_go) {
  uv_thread_t t;
  uv_sem_t done;

  ck_assert_int_eq(uv_thread_detach(NULL), UV_EINVAL);
  ck_assert_int_eq(uv_sem_init(&done, 0), 0);
  ck_assert_int_eq(uv_thread_create(&t, detached, &done), 0);
  ck_assert_int_eq(uv_thread_detach(&t), 0);
  uv_sem_wait(&done);
  uv_sem_destroy(&done);
}
END_TEST

/* A mask of one CPU (the one we run on) comes back as set, with every
 * other char zero; the old mask is handed back; short masks are refused. */
START_TEST(thread_affinity_round_trips) {
  int size = uv_cpumask_size();
  uv_thread_t self = uv_thread_self();
  char *mask, *old;
  int cpu, i;

  ck_assert_int_eq(size, CPU_SETSIZE);
  mask = calloc((size_t)size, 1);
  old = calloc((size_t)size, 1);
  ck_assert_int_eq(uv_thread_getaffinity(&self, mask, (size_t)size - 1),
                   UV_EINVAL);
  ck_assert_int_eq(uv_thread_getaffinity(&self, old, (size_t)size), 0);
  cpu = uv_thread_getcpu();
  ck_assert_int_ge(cpu, 0);
  ck_assert_int_eq(old[cpu], 1);
  mask[cpu] = 1;
  ck_assert_int_eq(uv_thread_setaffinity(&self, mask, NULL, (size_t)size), 0);
  memset(mask, 7, (size_t)size);
  ck_assert_int_eq(uv_thread_getaffinity(&self, mask, (size_t)size), 0);
  for (i = 0; i < size; i++)
    ck_assert_int_eq(mask[i], i == cpu);
  ck_assert_int_eq(uv_thread_getcpu(), cpu);
  /* Back to the old mask, getting the one-CPU mask as the old one. */
  memset(mask, 0, (size_t)size);
  ck_assert_int_eq(uv_thread_setaffinity(&self, old, mask, (size_t)size), 0);
  ck_assert_int_eq(mask[cpu], 1);
  /* Only CPUs that do not exist: the kernel refuses. */
  memset(mask, 0, (size_t)size);
  mask[size - 1] = 1;
  ck_assert_int_eq(uv_thread_setaffinity(&self, mask, NULL, (size_t)size),
                   UV_EINVAL);
  free(mask);
  free(old);
}
END_TEST

static void waiting(void *arg) { uv_sem_wait(arg); }

/* The calling thread's level is its nice value (LOWEST: 4); another
 * SCHED_OTHER thread has only priority 0; a dead one is UV_ESRCH. */
START_TEST(thread_priority_levels) {
  uv_thread_t t, self = uv_thread_self();
  uv_sem_t sem;
  int prio;

  ck_assert_int_eq(uv_thread_getpriority(self, NULL), UV_EINVAL);
  ck_assert_int_eq(uv_thread_setpriority(self, 3), UV_EINVAL);
  ck_assert_int_eq(uv_thread_setpriority(self, -3), UV_EINVAL);
  ck_assert_int_eq(uv_thread_setpriority(self, UV_THREAD_PRIORITY_LOWEST), 0);
  ck_assert_int_eq(uv_thread_getpriority(self, &prio), 0);
  ck_assert_int_eq(prio, 4);
  ck_assert_int_eq(getpriority(PRIO_PROCESS, (id_t)gettid()), 4);
  /* Back up needs the privilege to lower a nice value. */
  if (geteuid() == 0) {
    ck_assert_int_eq(uv_thread_setpriority(self, UV_THREAD_PRIORITY_NORMAL),
                     0);
    ck_assert_int_eq(uv_thread_getpriority(self, &prio), 0);
    ck_assert_int_eq(prio, 0);
  }

  ck_assert_int_eq(uv_sem_init(&sem, 0), 0);
  ck_assert_int_eq(uv_thread_create(&t, waiting, &sem), 0);
  ck_assert_int_eq(uv_thread_setpriority(t, UV_THREAD_PRIORITY_LOWEST), 0);
  ck_assert_int_eq(uv_thread_getpriority(t, &prio), 0);
  ck_assert_int_eq(prio, sched_get_priority_min(SCHED_OTHER));
  uv_sem_post(&sem);
  ck_assert_int_eq(uv_thread_join(&t), 0);
  uv_sem_destroy(&sem);
}
END_TEST

START_TEST(statfs_reports_fragment_size) {
  uv_fs_t req;
  uv_statfs_t *st;

  ck_assert_int_eq(uv_fs_statfs(NULL, &req, "/", NULL), 0);
  st = req.ptr;
  ck_assert_uint_gt(st->f_frsize, 0);
  ck_assert_uint_eq(st->f_spare[0], 0);
  uv_fs_req_cleanup(&req);
}
END_TEST

/* Pairs become four bytes, lone surrogates three (WTF-8), and back. */
START_TEST(utf16_wtf8_round_trip) {
  /* "a", U+00E9, U+20AC, U+1F600 (a pair), a lone high and a lone low
   * surrogate, "z". */
  static const uint16_t src[] = {0x61,   0xE9,   0x20AC, 0xD83D, 0xDE00,
                                 0xD800, 0x62,   0xDC00, 0x7A,   0};
  static const char want[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
                             "\xED\xA0\x80"
                             "b\xED\xB0\x80z";
  uint16_t back[16];
  char small[6];
  char *p = NULL, *q;
  size_t len;

  ck_assert_uint_eq(uv_utf16_length_as_wtf8(src, -1), sizeof(want) - 1);
  ck_assert_uint_eq(uv_utf16_length_as_wtf8(src, 3), 6);
  ck_assert_int_eq(uv_utf16_to_wtf8(src, -1, NULL, &len), 0);
  ck_assert_uint_eq(len, sizeof(want) - 1);
  ck_assert_int_eq(uv_utf16_to_wtf8(src, -1, &p, &len), 0);
  ck_assert_uint_eq(len, sizeof(want) - 1);
  ck_assert_mem_eq(p, want, sizeof(want));
  free(p);
  /* A pair cut by the length is a lone surrogate. */
  p = NULL;
  ck_assert_int_eq(uv_utf16_to_wtf8(src, 4, &p, &len), 0);
  ck_assert_uint_eq(len, 9);
  ck_assert_mem_eq(p, "a\xC3\xA9\xE2\x82\xAC\xED\xA0\xBD", 10);
  free(p);
  /* Into a short buffer: whole sequences only, the length needed back. */
  q = small;
  len = sizeof(small) - 1;
  ck_assert_int_eq(uv_utf16_to_wtf8(src, -1, &q, &len), UV_ENOBUFS);
  ck_assert_uint_eq(len, sizeof(want) - 1);
  ck_assert_str_eq(small, "a\xC3\xA9");

  ck_assert_int_eq(uv_wtf8_length_as_utf16(want), 10);
  uv_wtf8_to_utf16(want, back, 10);
  ck_assert_mem_eq(back, src, sizeof(src));
  /* Not WTF-8: a stray continuation, an overlong form, past U+10FFFF,
   * a sequence cut short. */
  ck_assert_int_eq(uv_wtf8_length_as_utf16("\x80"), -1);
  ck_assert_int_eq(uv_wtf8_length_as_utf16("\xC0\xAF"), -1);
  ck_assert_int_eq(uv_wtf8_length_as_utf16("\xF4\x90\x80\x80"), -1);
  ck_assert_int_eq(uv_wtf8_length_as_utf16("\xE2\x82"), -1);
  ck_assert_int_eq(uv_wtf8_length_as_utf16("\xF4\x8F\xBF\xBF"), 3);
  ck_assert_int_eq(uv_wtf8_length_as_utf16(""), 1);
}
END_TEST

static int zero_calls;
static void restart_at_zero(uv_timer_t *t) {
  ck_assert_int_eq(uv_timer_start(t, restart_at_zero, 0, 0), 0);
  uv_stop(t->loop);
  zero_calls++;
}

/* A timer that restarts itself at 0 ms runs once per turn (libuv 1.46
 * on): it used to run again in the same timer pass, for ever, so the
 * uv_stop it called was never reached (libuv 1.52's timer_zero_timeout
 * hung). */
START_TEST(timer_restarted_at_zero_waits_for_the_next_turn) {
  uv_loop_t loop;
  uv_timer_t t;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  ck_assert_int_eq(uv_timer_start(&t, restart_at_zero, 0, 0), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 1);
  ck_assert_int_eq(zero_calls, 1);
  uv_close((uv_handle_t *)&t, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(zero_calls, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static int repeat_calls;
static void count_repeat(uv_timer_t *t) {
  (void)t;
  repeat_calls++;
}

/* A repeating timer found late by uv_run(UV_RUN_ONCE) fires once: the
 * timers run after the poll, as in libuv 1.46 on (before, at the start
 * of the turn and again after a poll that waited for its next period:
 * twice; libuv 1.52's timer_no_double_call_once). */
START_TEST(late_repeating_timer_fires_once_per_run_once) {
  uv_loop_t loop;
  uv_timer_t t;

  ck_assert_int_eq(uv_loop_init(&loop), 0);
  ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
  ck_assert_int_eq(uv_timer_start(&t, count_repeat, 10, 10), 0);
  uv_sleep(20);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_ONCE), 1);
  ck_assert_int_eq(repeat_calls, 1);
  uv_close((uv_handle_t *)&t, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void *dirty_malloc(size_t n) {
  void *p = malloc(n);
  if (p != NULL)
    memset(p, 0xbe, n);
  return p;
}
static void *dirty_calloc(size_t c, size_t n) { return dirty_malloc(c * n); }

/* A program's calloc that does not zero (libuv 1.52's loop_init_oom
 * hands one in) must not leave the library reading garbage: the epoll
 * backend took 0xbebebebe for its fd table's size and overflowed. */
START_TEST(loop_runs_with_a_calloc_that_does_not_zero) {
  static const char *names[] = {"uring", "epoll"};
  uv_loop_t loop;
  uv_timer_t t;
  int i;

  ck_assert_int_eq(uv_replace_allocator(dirty_malloc, realloc, dirty_calloc,
                                        free),
                   0);
  for (i = 0; i < 2; i++) {
    bio_test_backend(names[i]);
    repeat_calls = 0;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(uv_timer_init(&loop, &t), 0);
    ck_assert_int_eq(uv_timer_start(&t, count_repeat, 1, 0), 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(repeat_calls, 1);
    uv_close((uv_handle_t *)&t, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("misc152");
  TCase *tc = tcase_create("api");

  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, clock_gettime_checks_and_reads);
  tcase_add_test(tc, getrusage_thread_counts_the_calling_thread);
  tcase_add_test(tc, available_memory_is_within_total);
  tcase_add_test(tc, passwd2_and_group_lookups);
  tcase_add_test(tc, thread_names_are_cut_to_fit);
  tcase_add_test(tc, pool_threads_are_named_libuv_worker);
  tcase_add_test(tc, thread_detach_lets_it_go);
  tcase_add_test(tc, thread_affinity_round_trips);
  tcase_add_test(tc, thread_priority_levels);
  tcase_add_test(tc, statfs_reports_fragment_size);
  tcase_add_test(tc, utf16_wtf8_round_trip);
  tcase_add_test(tc, timer_restarted_at_zero_waits_for_the_next_turn);
  tcase_add_test(tc, late_repeating_timer_fires_once_per_run_once);
  tcase_add_test(tc, loop_runs_with_a_calloc_that_does_not_zero);
  suite_add_tcase(s, tc);
  return bio_check_run(s);
}
