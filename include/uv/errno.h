/* blitz-io: numeric values of the UV__E* codes behind uv_errno_t.
 * On Linux a libuv error is the negated kernel errno; codes with no errno
 * (getaddrinfo failures, EOF, "unknown") live in a private range below
 * -3000. The numbers are x86_64 Linux facts, spelled out so they do not
 * depend on which feature macros the includer happened to define.
 */

#ifndef UV_ERRNO_H_
#define UV_ERRNO_H_

#include <errno.h>

/* Negated kernel errno values (asm-generic/errno*.h). */
#define UV__EPERM            (-1)
#define UV__ENOENT           (-2)
#define UV__ESRCH            (-3)
#define UV__EINTR            (-4)
#define UV__EIO              (-5)
#define UV__ENXIO            (-6)
#define UV__E2BIG            (-7)
#define UV__EBADF            (-9)
#define UV__EAGAIN           (-11)
#define UV__ENOMEM           (-12)
#define UV__EACCES           (-13)
#define UV__EFAULT           (-14)
#define UV__EBUSY            (-16)
#define UV__EEXIST           (-17)
#define UV__EXDEV            (-18)
#define UV__ENODEV           (-19)
#define UV__ENOTDIR          (-20)
#define UV__EISDIR           (-21)
#define UV__EINVAL           (-22)
#define UV__ENFILE           (-23)
#define UV__EMFILE           (-24)
#define UV__ENOTTY           (-25)
#define UV__ETXTBSY          (-26)
#define UV__EFBIG            (-27)
#define UV__ENOSPC           (-28)
#define UV__ESPIPE           (-29)
#define UV__EROFS            (-30)
#define UV__EMLINK           (-31)
#define UV__EPIPE            (-32)
#define UV__ERANGE           (-34)
#define UV__ENAMETOOLONG     (-36)
#define UV__ENOSYS           (-38)
#define UV__ENOTEMPTY        (-39)
#define UV__ELOOP            (-40)
#define UV__ENONET           (-64)
#define UV__EPROTO           (-71)
#define UV__EOVERFLOW        (-75)
#define UV__EILSEQ           (-84)
#define UV__ENOTSOCK         (-88)
#define UV__EDESTADDRREQ     (-89)
#define UV__EMSGSIZE         (-90)
#define UV__EPROTOTYPE       (-91)
#define UV__ENOPROTOOPT      (-92)
#define UV__EPROTONOSUPPORT  (-93)
#define UV__ESOCKTNOSUPPORT  (-94)
#define UV__ENOTSUP          (-95)
#define UV__EAFNOSUPPORT     (-97)
#define UV__EADDRINUSE       (-98)
#define UV__EADDRNOTAVAIL    (-99)
#define UV__ENETDOWN         (-100)
#define UV__ENETUNREACH      (-101)
#define UV__ECONNABORTED     (-103)
#define UV__ECONNRESET       (-104)
#define UV__ENOBUFS          (-105)
#define UV__EISCONN          (-106)
#define UV__ENOTCONN         (-107)
#define UV__ESHUTDOWN        (-108)
#define UV__ETIMEDOUT        (-110)
#define UV__ECONNREFUSED     (-111)
#define UV__EHOSTDOWN        (-112)
#define UV__EHOSTUNREACH     (-113)
#define UV__EALREADY         (-114)
#define UV__EREMOTEIO        (-121)
#define UV__ECANCELED        (-125)

/* Resolver failures: getaddrinfo() EAI_* codes have no errno twin. They
 * count down from ADDRFAMILY's -3000 (-3012 is unused). */
#define UV__EAI_ADDRFAMILY (-3000)
#define UV__EAI_AGAIN (UV__EAI_ADDRFAMILY - 1)
#define UV__EAI_BADFLAGS (UV__EAI_ADDRFAMILY - 2)
#define UV__EAI_CANCELED (UV__EAI_ADDRFAMILY - 3)
#define UV__EAI_FAIL (UV__EAI_ADDRFAMILY - 4)
#define UV__EAI_FAMILY (UV__EAI_ADDRFAMILY - 5)
#define UV__EAI_MEMORY (UV__EAI_ADDRFAMILY - 6)
#define UV__EAI_NODATA (UV__EAI_ADDRFAMILY - 7)
#define UV__EAI_NONAME (UV__EAI_ADDRFAMILY - 8)
#define UV__EAI_OVERFLOW (UV__EAI_ADDRFAMILY - 9)
#define UV__EAI_SERVICE (UV__EAI_ADDRFAMILY - 10)
#define UV__EAI_SOCKTYPE (UV__EAI_ADDRFAMILY - 11)
#define UV__EAI_BADHINTS (UV__EAI_ADDRFAMILY - 13)
#define UV__EAI_PROTOCOL (UV__EAI_ADDRFAMILY - 14)

/* libuv-only conditions, outside any errno range. */
/* Codes libuv 1.46-1.48 added; kernel errnos on Linux. */
#define UV__ENOEXEC          (-8)
#define UV__EUNATCH          (-49)
#define UV__ENODATA          (-61)

#define UV__EFTYPE           (-4028)
#define UV__ECHARSET         (-4080)
#define UV__UNKNOWN          (-4094)
#define UV__EOF              (-4095)

#endif /* UV_ERRNO_H_ */
