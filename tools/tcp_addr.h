/* TCP endpoints given as HOST:PORT ([V6ADDR]:PORT for IPv6), for
 * `vessel migrate` and `vessel receive`. */
#ifndef VESSEL_TCP_ADDR_H
#define VESSEL_TCP_ADDR_H

#include <stddef.h>

#include "base/error.h"

/* Split "HOST:PORT" into host (size bytes) and port; input errors name
 * what was expected. */
int tcp_addr_split(const char *s, char *host, size_t size, char *port,
		   size_t psize, struct error *err);
/* A connected, blocking socket (close-on-exec), or -1 within timeout_ms. */
int tcp_connect(const char *hostport, int timeout_ms, struct error *err);
/* A listening socket bound to HOST:PORT (close-on-exec). */
int tcp_listen(const char *hostport, struct error *err);
/* Accept one connection within timeout_ms (<= 0: wait for ever); the
 * peer's address into peer (size bytes). Blocking socket, or -1. */
int tcp_accept(int lfd, int timeout_ms, char *peer, size_t size,
	       struct error *err);

#endif
