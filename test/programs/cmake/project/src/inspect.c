#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bioutil.h"

int bu_inspect_parent(const char *path) {
  char name[64], line[4096], link[256], target[256];
  int ring = 0, epoll = 0;
  struct dirent *e;
  FILE *maps, *out;
  DIR *fds;
  pid_t parent = getppid();

  snprintf(name, sizeof(name), "/proc/%d/maps", (int)parent);
  maps = fopen(name, "r");
  snprintf(name, sizeof(name), "/proc/%d/fd", (int)parent);
  fds = opendir(name);
  out = fopen(path, "w");
  if (maps == NULL || fds == NULL || out == NULL) {
    perror("inspect");
    return 1;
  }
  fprintf(out, "libuv:");
  while (fgets(line, sizeof(line), maps) != NULL) {
    char *p = strchr(line, '/');
    if (p != NULL && strstr(p, "/libuv.so") != NULL) {
      p[strcspn(p, "\n")] = '\0';
      fprintf(out, " %s", p);
    }
  }
  fprintf(out, "\n");
  while ((e = readdir(fds)) != NULL) {
    ssize_t n;
    snprintf(link, sizeof(link), "%s/%s", name, e->d_name);
    n = readlink(link, target, sizeof(target) - 1);
    if (n < 0)
      continue;
    target[n] = '\0';
    ring |= strcmp(target, "anon_inode:[io_uring]") == 0;
    epoll |= strcmp(target, "anon_inode:[eventpoll]") == 0;
  }
  fprintf(out, "ring: %s\nepoll: %s\n", ring ? "yes" : "no",
          epoll ? "yes" : "no");
  fclose(maps);
  closedir(fds);
  printf("inspected %d\n", (int)parent);
  return fclose(out) != 0;
}
