/* no-uring [--kill] PROGRAM [ARGS...]: runs PROGRAM with io_uring denied,
 * as many containers deny it. A seccomp filter (inherited by every child)
 * makes io_uring_setup, io_uring_enter and io_uring_register fail with
 * EPERM, or with --kill kills the process that calls them (as some
 * sandboxes do); everything else is allowed. blitz-io must then pick
 * epoll by itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_io_uring_setup /* older headers; the numbers are the ABI */
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

#define DENY_EPERM (SECCOMP_RET_ERRNO | (EPERM & 0xffff))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)


int main(int argc, char **argv) {
  int kill = argc > 1 && strcmp(argv[1], "--kill") == 0;
  struct sock_filter code[] = {
    /* Only x86_64 system call numbers are known here: another ABI's
     * calls (i386 via int 0x80) pass untouched. */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    ALLOW,
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
    ALLOW,
    BPF_STMT(BPF_RET | BPF_K, kill ? SECCOMP_RET_KILL_PROCESS : DENY_EPERM),
  };
  struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

  argc -= kill;
  argv += kill;
  if (argc < 2) {
    fprintf(stderr, "usage: no-uring [--kill] PROGRAM [ARGS...]\n");
    return 2;
  }
#if !defined(__x86_64__)
  fprintf(stderr, "no-uring: x86_64 only\n");
  return 2;
#endif
  /* Without no_new_privs an unprivileged process may not install a
   * filter; it also keeps a setuid child from shedding it. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("no-uring: PR_SET_NO_NEW_PRIVS");
    return 2;
  }
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    perror("no-uring: seccomp");
    return 2;
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "no-uring: %s: %s\n", argv[1], strerror(errno));
  return 127;
}
