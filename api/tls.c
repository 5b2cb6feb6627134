/* api/tls.c - HTTPS on the listener: the certificate chain and key of TSPOOL_TLS_CERT_FILE /
 * TSPOOL_TLS_KEY_FILE checked before start-up (with OpenSSL's reason), then loaded into
 * CivetWeb's SSL_CTX with the minimum protocol version of TSPOOL_TLS_MIN_VERSION, and read
 * again when either file changes (a cert-manager renewal): new handshakes get the new pair.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <dlfcn.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tspool/log.h"

/* How often a handshake may make us stat the two files. */
#define TLS_WATCH_MS 1000

/* The certificate pair the listener serves, following its files. */
struct tsp_tls {
    pthread_mutex_t lock; /* guards everything below */
    const struct tsp_config *cfg;
    struct tsp_file_watch *cert_watch;
    struct tsp_file_watch *key_watch;
    X509 *cert; /* a pair read after start-up; NULL: the SSL_CTX's own is current */
    EVP_PKEY *key;
    STACK_OF(X509) * chain; /* intermediates after the leaf */
};

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

static void log_reload(const struct tsp_config *cfg, bool ok, const char *what)
{
    struct tsp_log_field fields[2] = {{.key = "cert_file", .str = cfg->tls_cert_file},
                                      {.key = "key_file", .str = cfg->tls_key_file}};
    struct tsp_log_ctx ctx = {.event = "tls.reload", .conn_id = -1, .fields = fields, .nfields = 2};

    if (ok) {
        TSP_LOG_INFO(&ctx, "TLS certificate reloaded: %s", what);
    } else {
        TSP_LOG_WARN(&ctx,
                     "TLS certificate files changed but cannot be used (%s); keeping "
                     "the previous certificate",
                     what);
    }
}

/* Read the chain and key files into a new pair; false (why in reason) when they cannot be
 * read or do not belong together. */
static bool read_pair(const struct tsp_config *cfg, X509 **cert, EVP_PKEY **key,
                      STACK_OF(X509) * *chain, char *reason, size_t size)
{
    FILE *f = NULL;
    X509 *c = NULL;
    X509 *extra = NULL;
    EVP_PKEY *k = NULL;
    STACK_OF(X509) *ch = sk_X509_new_null();
    bool ok = false;

    ERR_clear_error();
    f = fopen(cfg->tls_cert_file, "r");
    c = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (c == NULL || ch == NULL) {
        snprintf(reason, size, "no PEM certificate in \"%s\"", cfg->tls_cert_file);
        goto done;
    }
    while ((extra = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(ch, extra) <= 0) {
            X509_free(extra);
            snprintf(reason, size, "out of memory");
            goto done;
        }
    }
    ERR_clear_error(); /* the end of the file ends the loop with an error */
    fclose(f);
    f = fopen(cfg->tls_key_file, "r");
    k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (k == NULL) {
        snprintf(reason, size, "no PEM private key in \"%s\"", cfg->tls_key_file);
        goto done;
    }
    if (X509_check_private_key(c, k) != 1) {
        snprintf(reason, size, "the key in \"%s\" does not belong to the certificate in \"%s\"",
                 cfg->tls_key_file, cfg->tls_cert_file);
        goto done;
    }
    *cert = c;
    *key = k;
    *chain = ch;
    c = NULL;
    k = NULL;
    ch = NULL;
    ok = true;
done:
    if (f != NULL) {
        fclose(f);
    }
    ERR_clear_error();
    X509_free(c);
    EVP_PKEY_free(k);
    sk_X509_pop_free(ch, X509_free);
    return ok;
}

/* Re-read the pair when a file changed. Lock held. */
static void refresh_pair(struct tsp_tls *tls)
{
    bool cert_changed = tsp_file_watch_changed(tls->cert_watch);
    bool key_changed = tsp_file_watch_changed(tls->key_watch);
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    char reason[512];
    char subject[256] = "";

    if (!cert_changed && !key_changed) {
        return;
    }
    if (!read_pair(tls->cfg, &cert, &key, &chain, reason, sizeof(reason))) {
        log_reload(tls->cfg, false, reason);
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    X509_free(tls->cert);
    EVP_PKEY_free(tls->key);
    sk_X509_pop_free(tls->chain, X509_free);
    tls->cert = cert;
    tls->key = key;
    tls->chain = chain;
    log_reload(tls->cfg, true, subject);
}

/* OpenSSL's certificate callback, once per handshake on a CivetWeb worker thread: serve the
 * pair read last (the SSL_CTX's own until a file changes). */
static int on_cert(SSL *ssl, void *arg)
{
    struct tsp_tls *tls = arg;
    int rc = 1;

    pthread_mutex_lock(&tls->lock);
    refresh_pair(tls);
    if (tls->cert != NULL && SSL_use_cert_and_key(ssl, tls->cert, tls->key, tls->chain, 1) != 1) {
        ERR_clear_error();
        rc = 0;
    }
    pthread_mutex_unlock(&tls->lock);
    return rc;
}

struct tsp_tls *tsp_tls_new(const struct tsp_config *cfg)
{
    struct tsp_tls *tls = calloc(1, sizeof(*tls));

    if (tls == NULL) {
        return NULL;
    }
    pthread_mutex_init(&tls->lock, NULL);
    tls->cfg = cfg;
    tls->cert_watch = tsp_file_watch_new(cfg->tls_cert_file, TLS_WATCH_MS);
    tls->key_watch = tsp_file_watch_new(cfg->tls_key_file, TLS_WATCH_MS);
    if (tls->cert_watch == NULL || tls->key_watch == NULL) {
        tsp_tls_free(tls);
        return NULL;
    }
    return tls;
}

void tsp_tls_free(struct tsp_tls *tls)
{
    if (tls == NULL) {
        return;
    }
    tsp_file_watch_free(tls->cert_watch);
    tsp_file_watch_free(tls->key_watch);
    X509_free(tls->cert);
    EVP_PKEY_free(tls->key);
    sk_X509_pop_free(tls->chain, X509_free);
    pthread_mutex_destroy(&tls->lock);
    free(tls);
}

int tsp_tls_init_ctx(void *ssl_ctx, struct tsp_tls *tls)
{
    struct tsp_error err;

    tsp_error_init(&err);
    /* tsp_tls_check passed moments ago: a failure here means the files changed in between */
    if (load_into(ssl_ctx, tls->cfg, &err) != TSP_OK) {
        return -1;
    }
    SSL_CTX_set_cert_cb(ssl_ctx, on_cert, tls);
    return 1;
}
