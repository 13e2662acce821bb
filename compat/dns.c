/* uv_getaddrinfo and uv_getnameinfo: the libc resolver run on the pool as
 * slow I/O (it can block for seconds, so it may not take every thread), or
 * on the caller's thread when no callback is given. libc's EAI_* codes
 * become libuv's UV_EAI_* ones. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "threadpool.h"


/* glibc's EAI_* values are not libuv's: translate one by one. */
static int eai_to_uv(int rc) {
  switch (rc) {
  case 0:
    return 0;
#ifdef EAI_ADDRFAMILY
  case EAI_ADDRFAMILY:
    return UV_EAI_ADDRFAMILY;
#endif
  case EAI_AGAIN:
    return UV_EAI_AGAIN;
  case EAI_BADFLAGS:
    return UV_EAI_BADFLAGS;
#ifdef EAI_CANCELED
  case EAI_CANCELED:
    return UV_EAI_CANCELED;
#endif
  case EAI_FAIL:
    return UV_EAI_FAIL;
  case EAI_FAMILY:
    return UV_EAI_FAMILY;
  case EAI_MEMORY:
    return UV_EAI_MEMORY;
#ifdef EAI_NODATA
  case EAI_NODATA:
    return UV_EAI_NODATA;
#endif
  case EAI_NONAME:
    return UV_EAI_NONAME;
  case EAI_OVERFLOW:
    return UV_EAI_OVERFLOW;
  case EAI_SERVICE:
    return UV_EAI_SERVICE;
  case EAI_SOCKTYPE:
    return UV_EAI_SOCKTYPE;
  default:
    /* EAI_SYSTEM never gets here: the callers turn it into -errno while
     * errno still holds the cause. */
    return UV_EAI_FAIL;
  }
}


/* ---- uv_getaddrinfo ---- */

/* The request's copies of hints, service and node share one allocation,
 * in that order; the first one present is where it starts. */
static void gai_release(uv_getaddrinfo_t *req) {
  void *block = req->hints != NULL     ? (void *)req->hints
                : req->service != NULL ? (void *)req->service
                                       : (void *)req->hostname;
  bio__free(block);
  req->hints = NULL;
  req->service = NULL;
  req->hostname = NULL;
}


/* retcode: UV_EAI_* (or a negative errno for EAI_SYSTEM), never libc's. */
static void gai_resolve(uv_getaddrinfo_t *req) {
  int rc = getaddrinfo(req->hostname, req->service, req->hints,
                       &req->addrinfo);
  if (rc == EAI_SYSTEM)
    req->retcode = errno != 0 ? -errno : UV_EAI_FAIL;
  else
    req->retcode = eai_to_uv(rc);
  if (req->retcode != 0)
    req->addrinfo = NULL;
}


static void gai_run(uv_req_t *req) { gai_resolve((uv_getaddrinfo_t *)req); }


static void gai_done(uv_req_t *r, int status) {
  uv_getaddrinfo_t *req = (uv_getaddrinfo_t *)r;

  gai_release(req);
  if (status == UV_ECANCELED) {
    req->retcode = UV_EAI_CANCELED;
    req->addrinfo = NULL;
  }
  if (req->cb != NULL)
    req->cb(req, req->retcode, req->addrinfo);
}


static const bio_uv_work_ops gai_ops = {.run = gai_run, .done = gai_done};


UV_EXTERN int uv_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req,
                             uv_getaddrinfo_cb getaddrinfo_cb,
                             const char *node, const char *service,
                             const struct addrinfo *hints) {
  size_t hints_len = hints != NULL ? sizeof(*hints) : 0;
  size_t service_len = service != NULL ? strlen(service) + 1 : 0;
  size_t node_len = node != NULL ? strlen(node) + 1 : 0;
  char *block;
  char *at;
  int err;

  if (req == NULL || (node == NULL && service == NULL))
    return UV_EINVAL;
  if (getaddrinfo_cb != NULL && (loop == NULL || loop->internal_fields == NULL))
    return UV_EINVAL;
  /* Longer than any DNS name can be (RFC 1035: 255 octets). */
  if (node_len > 256)
    return UV_EINVAL;

  block = bio__malloc(hints_len + service_len + node_len);
  if (block == NULL)
    return UV_ENOMEM;
  req->type = UV_GETADDRINFO;
  req->loop = loop;
  req->cb = getaddrinfo_cb;
  req->addrinfo = NULL;
  req->retcode = 0;
  req->hints = NULL;
  req->service = NULL;
  req->hostname = NULL;
  at = block;
  if (hints != NULL) {
    /* Only the four request fields mean anything in hints; the rest must
     * be zero for libc, whatever the caller left in them. */
    struct addrinfo *h = (struct addrinfo *)(void *)at;
    memset(h, 0, sizeof(*h));
    h->ai_flags = hints->ai_flags;
    h->ai_family = hints->ai_family;
    h->ai_socktype = hints->ai_socktype;
    h->ai_protocol = hints->ai_protocol;
    req->hints = h;
    at += hints_len;
  }
  if (service != NULL) {
    memcpy(at, service, service_len);
    req->service = at;
    at += service_len;
  }
  if (node != NULL) {
    memcpy(at, node, node_len);
    req->hostname = at;
  }

  if (getaddrinfo_cb == NULL) {
    gai_resolve(req);
    gai_release(req);
    return req->retcode;
  }
  err = bio__uv_work_submit((uv_req_t *)req, BIO_WORK_SLOW_IO, &gai_ops);
  if (err != 0)
    gai_release(req);
  return err;
}


UV_EXTERN void uv_freeaddrinfo(struct addrinfo *ai) {
  if (ai != NULL)
    freeaddrinfo(ai);
}


/* ---- uv_getnameinfo ---- */

static void gni_resolve(uv_getnameinfo_t *req) {
  const struct sockaddr *sa = (const struct sockaddr *)&req->storage;
  socklen_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                           : sizeof(struct sockaddr_in6);
  int rc = getnameinfo(sa, len, req->host, sizeof(req->host), req->service,
                       sizeof(req->service), req->flags);
  if (rc == EAI_SYSTEM)
    req->retcode = errno != 0 ? -errno : UV_EAI_FAIL;
  else
    req->retcode = eai_to_uv(rc);
}


static void gni_run(uv_req_t *req) { gni_resolve((uv_getnameinfo_t *)req); }


static void gni_done(uv_req_t *r, int status) {
  uv_getnameinfo_t *req = (uv_getnameinfo_t *)r;
  const char *host = NULL;
  const char *service = NULL;

  if (status == UV_ECANCELED)
    req->retcode = UV_EAI_CANCELED;
  else if (req->retcode == 0) {
    host = req->host;
    service = req->service;
  }
  if (req->getnameinfo_cb != NULL)
    req->getnameinfo_cb(req, req->retcode, host, service);
}


static const bio_uv_work_ops gni_ops = {.run = gni_run, .done = gni_done};


UV_EXTERN int uv_getnameinfo(uv_loop_t *loop, uv_getnameinfo_t *req,
                             uv_getnameinfo_cb getnameinfo_cb,
                             const struct sockaddr *addr, int flags) {
  if (req == NULL || addr == NULL)
    return UV_EINVAL;
  if (getnameinfo_cb != NULL && (loop == NULL || loop->internal_fields == NULL))
    return UV_EINVAL;
  if (addr->sa_family == AF_INET)
    memcpy(&req->storage, addr, sizeof(struct sockaddr_in));
  else if (addr->sa_family == AF_INET6)
    memcpy(&req->storage, addr, sizeof(struct sockaddr_in6));
  else
    return UV_EINVAL;

  req->type = UV_GETNAMEINFO;
  req->loop = loop;
  req->getnameinfo_cb = getnameinfo_cb;
  req->flags = flags;
  req->retcode = 0;
  req->host[0] = '\0';
  req->service[0] = '\0';

  if (getnameinfo_cb == NULL) {
    gni_resolve(req);
    return req->retcode;
  }
  return bio__uv_work_submit((uv_req_t *)req, BIO_WORK_SLOW_IO, &gni_ops);
}
