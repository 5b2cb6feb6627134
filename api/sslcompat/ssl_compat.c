/* sslcompat/ssl_compat.c - libtspool-ssl.so: lets Debian's CivetWeb 1.15 serve TLS with OpenSSL 3.
 * CivetWeb loads libssl.so with dlopen and looks up SSL_get_peer_certificate, which OpenSSL 3
 * no longer exports (it became a macro for SSL_get1_peer_certificate); the NULL pointer
 * crashes the first TLS connection. This library carries the SONAME "libssl.so" and depends
 * on libssl.so.3: loaded before CivetWeb's dlopen, it is what that dlopen returns, and every
 * other lookup falls through to the real libssl.so.3.
 * SPDX-License-Identifier: MIT
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

/* Exported for CivetWeb's dlsym only; the same reference-counting contract as OpenSSL 1.1's
 * function (the caller frees the certificate). */
X509 *SSL_get_peer_certificate(const SSL *ssl);

X509 *SSL_get_peer_certificate(const SSL *ssl)
{
    return SSL_get1_peer_certificate(ssl);
}
