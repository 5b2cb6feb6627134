/* sslcompat/crypto_compat.c - libtspool-crypto.so: carries the SONAME "libcrypto.so" and depends on
 * libcrypto.so.3, so that CivetWeb's dlopen("libcrypto.so") finds OpenSSL 3 without the
 * development symlink (see ssl_compat.c).
 * SPDX-License-Identifier: MIT
 */
#include <openssl/crypto.h>

/* A symbol of our own: a shared library needs something to export. */
unsigned long tsp_crypto_compat_version(void);

unsigned long tsp_crypto_compat_version(void)
{
    return OpenSSL_version_num();
}
