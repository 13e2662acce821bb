/* uring-probe: calls io_uring_setup once and prints what happened: "ok",
 * or the errno's name for the errors that matter here. Exit status 0 when
 * the ring was made, 1 when the call failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif


int main(void) {
  struct io_uring_params p;
  long fd;

  memset(&p, 0, sizeof(p));
  fd = syscall(__NR_io_uring_setup, 4, &p);
  if (fd >= 0) {
    close((int)fd);
    puts("ok");
    return 0;
  }
  puts(errno == EPERM    ? "EPERM"
       : errno == ENOSYS ? "ENOSYS"
       : errno == ENOMEM ? "ENOMEM"
                         : strerror(errno));
  return 1;
}
