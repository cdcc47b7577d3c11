/* A preload shim for the suites under nss_wrapper: getspnam_r() answered
 * from getspnam().
 *
 * nss_wrapper (1.1.12) interposes getspnam() but not getspnam_r(), which
 * sesame (common/account.c) and libpam's pam_modutil_getspnam(), which the
 * real pam_unix.so uses, both call. Preloaded next to nss_wrapper, this
 * makes them read the fake shadow file the way they read /etc/shadow.
 * Test-only: getspnam() is not reentrant, and the tests need it not be. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <shadow.h>
#include <string.h>

/* Copies src into the caller's buffer; NULL when it does not fit. */
static char *copy_field(const char *src, char **cursor, size_t *left)
{
	size_t len;
	char *dst = *cursor;

	if (src == NULL)
		return NULL;
	len = strlen(src) + 1;
	if (len > *left)
		return NULL;
	memcpy(dst, src, len);
	*cursor += len;
	*left -= len;
	return dst;
}

int getspnam_r(const char *name, struct spwd *spbuf, char *buf, size_t buflen,
	       struct spwd **spbufp)
{
	struct spwd *found;
	char *cursor = buf;
	size_t left = buflen;

	*spbufp = NULL;
	errno = 0;
	found = getspnam(name);
	if (found == NULL)
		return errno == ENOENT ? 0 : errno;
	*spbuf = *found; /* sp_expire and the other numbers */
	spbuf->sp_namp = copy_field(found->sp_namp, &cursor, &left);
	spbuf->sp_pwdp = copy_field(found->sp_pwdp, &cursor, &left);
	if (spbuf->sp_namp == NULL || (found->sp_pwdp != NULL && spbuf->sp_pwdp == NULL)) {
		memset(spbuf, 0, sizeof(*spbuf));
		return ERANGE;
	}
	*spbufp = spbuf;
	return 0;
}
