/* bio-measure: runs one program once and reports what bio-run --compare
 * tabulates - wall time, peak memory (max RSS of the child and everything it
 * waited for) and how it ended - as one line on stderr:
 *
 *   wall_s=0.123 maxrss_kb=4567 status=0
 *
 * status is the exit code, or "signal N". bio-measure's own exit status is
 * the child's (128+N for a signal), so it can stand in for the program.
 * With -o FILE the line goes to FILE instead, away from the program's own
 * stderr.
 *
 * usage: bio-measure [-o FILE] PROGRAM [ARGS...]
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_CANNOT_RUN = 127 };


static double elapsed_s(const struct timespec* from,
                        const struct timespec* to) {
  return (double) (to->tv_sec - from->tv_sec) +
         (double) (to->tv_nsec - from->tv_nsec) / 1e9;
}


static void report(FILE* out, double wall_s, long maxrss_kb, int status) {
  if (WIFSIGNALED(status))
    fprintf(out, "wall_s=%.3f maxrss_kb=%ld status=signal %d\n", wall_s,
            maxrss_kb, WTERMSIG(status));
  else
    fprintf(out, "wall_s=%.3f maxrss_kb=%ld status=%d\n", wall_s, maxrss_kb,
            WEXITSTATUS(status));
  fflush(out);
}


int main(int argc, char** argv) {
  struct timespec start;
  struct timespec end;
  struct rusage usage;
  FILE* out;
  pid_t pid;
  int status;
  int first;

  out = stderr;
  first = 1;
  if (argc > 2 && strcmp(argv[1], "-o") == 0) {
    /* Opened before the run so a bad path fails before any work; "e" is
     * O_CLOEXEC, so the program does not inherit it. */
    out = fopen(argv[2], "we");
    if (out == NULL) {
      fprintf(stderr, "bio-measure: %s: %s\n", argv[2], strerror(errno));
      return EXIT_CANNOT_RUN;
    }
    first = 3;
  }
  if (first >= argc) {
    fprintf(stderr, "usage: bio-measure [-o FILE] PROGRAM [ARGS...]\n");
    return EXIT_CANNOT_RUN;
  }

  /* CLOCK_MONOTONIC: wall time that NTP steps cannot bend. */
  if (clock_gettime(CLOCK_MONOTONIC, &start) != 0) {
    perror("bio-measure: clock_gettime");
    return EXIT_CANNOT_RUN;
  }

  pid = fork();
  if (pid < 0) {
    perror("bio-measure: fork");
    return EXIT_CANNOT_RUN;
  }
  if (pid == 0) {
    execvp(argv[first], &argv[first]);
    fprintf(stderr, "bio-measure: %s: %s\n", argv[first], strerror(errno));
    _exit(EXIT_CANNOT_RUN);
  }

  /* wait4, not waitpid: its rusage is the child's own, and ru_maxrss
   * covers the largest of the child's waited-for descendants as well. */
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      perror("bio-measure: wait4");
      return EXIT_CANNOT_RUN;
    }
  }
  if (clock_gettime(CLOCK_MONOTONIC, &end) != 0) {
    perror("bio-measure: clock_gettime");
    return EXIT_CANNOT_RUN;
  }

  report(out, elapsed_s(&start, &end), usage.ru_maxrss, status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
