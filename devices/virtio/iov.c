/* Copies between a flat buffer and an iovec list, from byte offset `off` of
 * the list. Both stop at the end of the list: the return value is the number
 * of bytes copied, which is less than len when the list is too short. */
#include "queue.h"

#include <string.h>

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
		  size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off;
		if (c > len - done)
			c = len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
		    const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off;
		if (c > len - done)
			c = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, c);
		done += c;
		off = 0;
	}
	return done;
}
