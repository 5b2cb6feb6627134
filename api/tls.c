/* api/tls.c - HTTPS on the listener: the certificate chain and key of TSPOOL_TLS_CERT_FILE /
 * TSPOOL_TLS_KEY_FILE checked before start-up (with OpenSSL's reason), then loaded into
 * CivetWeb's SSL_CTX with the minimum protocol version of TSPOOL_TLS_MIN_VERSION.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <dlfcn.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* OpenSSL's reason for the last failure, one line. */
static const char *ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0) {
        snprintf(buf, size, "unknown error");
    } else {
        ERR_error_string_n(e, buf, size);
    }
    ERR_clear_error();
    return buf;
}

/* Load chain, key and version floor into ctx; err says which file is at fault. */
static enum tsp_code load_into(SSL_CTX *ctx, const struct tsp_config *cfg, struct tsp_error *err)
{
    char reason[256];
    int min = strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    bool key_loaded = false;

    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        return tsp_error_set(err, TSP_INVALID, "TSPOOL_TLS_CERT_FILE",
                             "TSPOOL_TLS_CERT_FILE: cannot load a PEM certificate from \"%s\": %s",
                             cfg->tls_cert_file, ssl_reason(reason, sizeof(reason)));
    }
    key_loaded = SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) == 1;
    /* OpenSSL compares the key with the certificate while loading it */
    if (!key_loaded && ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return tsp_error_set(err, TSP_INVALID, "TSPOOL_TLS_KEY_FILE",
                             "TSPOOL_TLS_KEY_FILE: the key in \"%s\" does not belong to the "
                             "certificate in \"%s\"",
                             cfg->tls_key_file, cfg->tls_cert_file);
    }
    if (!key_loaded) {
        return tsp_error_set(err, TSP_INVALID, "TSPOOL_TLS_KEY_FILE",
                             "TSPOOL_TLS_KEY_FILE: cannot load a PEM private key from \"%s\": %s",
                             cfg->tls_key_file, ssl_reason(reason, sizeof(reason)));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return tsp_error_set(err, TSP_INVALID, "TSPOOL_TLS_KEY_FILE",
                             "TSPOOL_TLS_KEY_FILE: the key in \"%s\" does not belong to the "
                             "certificate in \"%s\": %s",
                             cfg->tls_key_file, cfg->tls_cert_file,
                             ssl_reason(reason, sizeof(reason)));
    }
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1) {
        return tsp_error_set(err, TSP_INTERNAL, "TSPOOL_TLS_MIN_VERSION",
                             "TSPOOL_TLS_MIN_VERSION: cannot set TLS %s as the minimum: %s",
                             cfg->tls_min_version, ssl_reason(reason, sizeof(reason)));
    }
    return TSP_OK;
}

/* Load one compatibility library from the executable's directory; kept loaded for good. */
static enum tsp_code load_compat(const char *dir, const char *name, struct tsp_error *err)
{
    char path[PATH_MAX + 64];
    void *handle = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (handle == NULL) {
        const char *why = dlerror();
        return tsp_error_set(err, TSP_IO, "TSPOOL_TLS_CERT_FILE",
                             "HTTPS needs %s next to the tspool binary: %s", name,
                             why != NULL ? why : "cannot load it");
    }
    return TSP_OK;
}

enum tsp_code tsp_tls_load_compat(struct tsp_error *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash = NULL;
    enum tsp_code rc = TSP_OK;

    if (n <= 0) {
        return tsp_error_set(err, TSP_IO, "TSPOOL_TLS_CERT_FILE",
                             "HTTPS: cannot find the directory of the tspool binary");
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    /* libcrypto first: the ssl library depends on it under its real name anyway */
    rc = load_compat(exe, "libtspool-crypto.so", err);
    if (rc == TSP_OK) {
        rc = load_compat(exe, "libtspool-ssl.so", err);
    }
    return rc;
}

enum tsp_code tsp_tls_check(const struct tsp_config *cfg, struct tsp_error *err)
{
    SSL_CTX *ctx = NULL;
    enum tsp_code rc = TSP_OK;

    if (cfg->tls_cert_file == NULL) {
        return TSP_OK;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "cannot create a TLS context");
        goto done;
    }
    rc = load_into(ctx, cfg, err);
done:
    SSL_CTX_free(ctx);
    return rc;
}

int tsp_tls_init_ctx(void *ssl_ctx, const struct tsp_config *cfg)
{
    struct tsp_error err;

    tsp_error_init(&err);
    /* tsp_tls_check passed moments ago: a failure here means the files changed in between */
    return load_into(ssl_ctx, cfg, &err) == TSP_OK ? 1 : -1;
}
