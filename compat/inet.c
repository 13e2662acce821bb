/* IP address text <-> binary conversions (uv_ip4_addr and friends, pton,
 * ntop) and the interface queries (index <-> name, uv_interface_addresses).
 * Thin wrappers over the C library that give libuv's error codes: UV_EINVAL
 * for bad text, UV_ENOSPC for a short buffer, UV_EAFNOSUPPORT otherwise. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

/* Longest IPv6 text without a zone: "ffff:...:255.255.255.255" + NUL. */
#define IP6_TEXT_MAX 46


UV_EXTERN int uv_inet_pton(int af, const char *src, void *dst) {
  char addr_part[IP6_TEXT_MAX];
  const char *zone;
  size_t len;

  if (src == NULL || dst == NULL)
    return UV_EINVAL;
  switch (af) {
  case AF_INET:
    return inet_pton(AF_INET, src, dst) == 1 ? 0 : UV_EINVAL;
  case AF_INET6:
    /* libuv accepts (and ignores) a "%zone" suffix here; the C library
     * does not, so parse only what comes before it. */
    zone = strchr(src, '%');
    if (zone == NULL)
      return inet_pton(AF_INET6, src, dst) == 1 ? 0 : UV_EINVAL;
    len = (size_t)(zone - src);
    if (len >= sizeof(addr_part))
      return UV_EINVAL;
    memcpy(addr_part, src, len);
    addr_part[len] = '\0';
    return inet_pton(AF_INET6, addr_part, dst) == 1 ? 0 : UV_EINVAL;
  default:
    return UV_EAFNOSUPPORT;
  }
}


UV_EXTERN int uv_inet_ntop(int af, const void *src, char *dst, size_t size) {
  if (af != AF_INET && af != AF_INET6)
    return UV_EAFNOSUPPORT;
  if (src == NULL || dst == NULL)
    return UV_EINVAL;
  if (size > (size_t)(socklen_t)-1)
    size = (socklen_t)-1;
  if (inet_ntop(af, src, dst, (socklen_t)size) == NULL)
    return errno == ENOSPC ? UV_ENOSPC : -errno;
  return 0;
}


UV_EXTERN int uv_ip4_addr(const char *ip, int port, struct sockaddr_in *addr) {
  if (addr == NULL)
    return UV_EINVAL;
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_port = htons((uint16_t)port);
  return uv_inet_pton(AF_INET, ip, &addr->sin_addr);
}


/* A zone names an interface ("eth0") or gives its index ("2"). */
static uint32_t zone_to_scope_id(const char *zone) {
  unsigned int index = if_nametoindex(zone);
  char *end;
  unsigned long n;

  if (index != 0 || *zone == '\0')
    return index;
  n = strtoul(zone, &end, 10);
  if (*end != '\0' || n > UINT32_MAX)
    return 0;
  return (uint32_t)n;
}


UV_EXTERN int uv_ip6_addr(const char *ip, int port,
                          struct sockaddr_in6 *addr) {
  const char *zone;

  if (addr == NULL || ip == NULL)
    return UV_EINVAL;
  memset(addr, 0, sizeof(*addr));
  addr->sin6_family = AF_INET6;
  addr->sin6_port = htons((uint16_t)port);
  zone = strchr(ip, '%');
  if (zone != NULL)
    addr->sin6_scope_id = zone_to_scope_id(zone + 1);
  return uv_inet_pton(AF_INET6, ip, &addr->sin6_addr);
}


UV_EXTERN int uv_ip4_name(const struct sockaddr_in *src, char *dst,
                          size_t size) {
  if (src == NULL)
    return UV_EINVAL;
  return uv_inet_ntop(AF_INET, &src->sin_addr, dst, size);
}


UV_EXTERN int uv_ip6_name(const struct sockaddr_in6 *src, char *dst,
                          size_t size) {
  if (src == NULL)
    return UV_EINVAL;
  return uv_inet_ntop(AF_INET6, &src->sin6_addr, dst, size);
}


UV_EXTERN int uv_ip_name(const struct sockaddr *src, char *dst, size_t size) {
  if (src == NULL)
    return UV_EINVAL;
  switch (src->sa_family) {
  case AF_INET:
    return uv_ip4_name((const struct sockaddr_in *)src, dst, size);
  case AF_INET6:
    return uv_ip6_name((const struct sockaddr_in6 *)src, dst, size);
  default:
    return UV_EAFNOSUPPORT;
  }
}


/* *size is the buffer's size on entry; on success the name's length, on
 * UV_ENOBUFS the size needed (with the NUL), as libuv documents. */
UV_EXTERN int uv_if_indextoname(unsigned int ifindex, char *buffer,
                                size_t *size) {
  char name[IF_NAMESIZE + 1];
  size_t len;

  if (buffer == NULL || size == NULL || *size == 0)
    return UV_EINVAL;
  if (if_indextoname(ifindex, name) == NULL)
    return -errno;
  len = strlen(name);
  if (len >= *size) {
    *size = len + 1;
    return UV_ENOBUFS;
  }
  memcpy(buffer, name, len + 1);
  *size = len;
  return 0;
}


/* On Unix the interface identifier of a scoped address is the name. */
UV_EXTERN int uv_if_indextoiid(unsigned int ifindex, char *buffer,
                               size_t *size) {
  return uv_if_indextoname(ifindex, buffer, size);
}


/* Interfaces that are up and running, with an IPv4 or IPv6 address. */
static int wanted_ifaddr(const struct ifaddrs *ent) {
  if (!(ent->ifa_flags & IFF_UP) || !(ent->ifa_flags & IFF_RUNNING))
    return 0;
  if (ent->ifa_addr == NULL)
    return 0;
  return ent->ifa_addr->sa_family == AF_INET ||
         ent->ifa_addr->sa_family == AF_INET6;
}


/* The MAC address lives on the interface's AF_PACKET entry. */
static void copy_phys_addr(struct ifaddrs *all, const char *name,
                           char phys_addr[6]) {
  struct ifaddrs *ent;

  memset(phys_addr, 0, 6);
  for (ent = all; ent != NULL; ent = ent->ifa_next) {
    const struct sockaddr_ll *ll;
    if (ent->ifa_addr == NULL || ent->ifa_addr->sa_family != AF_PACKET)
      continue;
    if (strcmp(ent->ifa_name, name) != 0)
      continue;
    ll = (const struct sockaddr_ll *)ent->ifa_addr;
    memcpy(phys_addr, ll->sll_addr, ll->sll_halen < 6 ? ll->sll_halen : 6);
    return;
  }
}


/* One allocation holds the array and, after it, every name: the caller
 * frees it all with uv_free_interface_addresses. */
UV_EXTERN int uv_interface_addresses(uv_interface_address_t **addresses,
                                     int *count) {
  struct ifaddrs *all;
  struct ifaddrs *ent;
  uv_interface_address_t *out;
  size_t names_bytes = 0;
  char *names;
  int n = 0;
  int i = 0;

  if (addresses == NULL || count == NULL)
    return UV_EINVAL;
  *addresses = NULL;
  *count = 0;
  if (getifaddrs(&all) != 0)
    return -errno;
  for (ent = all; ent != NULL; ent = ent->ifa_next) {
    if (!wanted_ifaddr(ent))
      continue;
    n++;
    names_bytes += strlen(ent->ifa_name) + 1;
  }
  if (n == 0) {
    freeifaddrs(all);
    return 0;
  }
  out = bio__calloc(1, (size_t)n * sizeof(*out) + names_bytes);
  if (out == NULL) {
    freeifaddrs(all);
    return UV_ENOMEM;
  }
  names = (char *)(out + n);
  for (ent = all; ent != NULL; ent = ent->ifa_next) {
    uv_interface_address_t *a;
    size_t len;
    if (!wanted_ifaddr(ent))
      continue;
    a = &out[i++];
    len = strlen(ent->ifa_name) + 1;
    memcpy(names, ent->ifa_name, len);
    a->name = names;
    names += len;
    if (ent->ifa_addr->sa_family == AF_INET6)
      memcpy(&a->address.address6, ent->ifa_addr, sizeof(a->address.address6));
    else
      memcpy(&a->address.address4, ent->ifa_addr, sizeof(a->address.address4));
    /* The netmask's own sa_family is not always filled in: go by the
     * address's. */
    if (ent->ifa_netmask != NULL) {
      if (ent->ifa_addr->sa_family == AF_INET6)
        memcpy(&a->netmask.netmask6, ent->ifa_netmask,
               sizeof(a->netmask.netmask6));
      else
        memcpy(&a->netmask.netmask4, ent->ifa_netmask,
               sizeof(a->netmask.netmask4));
    }
    a->is_internal = (ent->ifa_flags & IFF_LOOPBACK) != 0;
    copy_phys_addr(all, ent->ifa_name, a->phys_addr);
  }
  freeifaddrs(all);
  *addresses = out;
  *count = n;
  return 0;
}


UV_EXTERN void uv_free_interface_addresses(uv_interface_address_t *addresses,
                                           int count) {
  (void)count; /* names live in the same block as the array */
  bio__free(addresses);
}


int bio__sock_name(const uv_handle_t *h, int peer, struct sockaddr *name,
                   int *namelen) {
  socklen_t len;
  uv_os_fd_t fd;
  int err;

  err = uv_fileno(h, &fd);
  if (err != 0)
    return err;
  len = (socklen_t)*namelen;
  if ((peer ? getpeername(fd, name, &len) : getsockname(fd, name, &len)) != 0)
    return -errno;
  *namelen = (int)len;
  return 0;
}
