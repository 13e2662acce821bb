/* loop-backend: runs a timer on uv_default_loop() and prints the backend
 * the loop chose ("uring" or "epoll"). Under no-uring --kill it must not
 * die: the loop must find out that io_uring would kill it and use epoll. */
#include <stdio.h>

#include "blitzio.h"
#include "uv.h"

static int fired;

static void on_timer(uv_timer_t *t) {
  fired = 1;
  uv_close((uv_handle_t *)t, NULL);
}


int main(void) {
  uv_timer_t t;
  const char *name;

  if (uv_timer_init(uv_default_loop(), &t) != 0 ||
      uv_timer_start(&t, on_timer, 1, 0) != 0 ||
      uv_run(uv_default_loop(), UV_RUN_DEFAULT) != 0 || !fired)
    return 1;
  name = bio_uv_loop_backend(uv_default_loop());
  puts(name != NULL ? name : "?");
  return uv_loop_close(uv_default_loop()) == 0 ? 0 : 1;
}
