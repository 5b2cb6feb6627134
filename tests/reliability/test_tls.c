/* test_tls.c - TLS on both sides, with a CA and certificates the test makes with `openssl`:
 * the HTTPS listener (curl --cacert succeeds, plain HTTP to the TLS port fails cleanly, the
 * minimum version holds, bad key files stop start-up with a clear message, a renewed
 * certificate is served without a restart while open connections keep going) and the database
 * connection (DB_SSLMODE=verify-full with DB_SSLROOTCERT against the test server with ssl on).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_client.h"
#include "reliability.h"

static char dir[64];
static bool db_ssl_on;
static struct tsp_test_service *reload_svc; /* stopped by teardown when a check failed */

static char *path_of(const char *name)
{
    static char buf[4][160];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, sizeof(buf[0]), "%s/%s", dir, name);
    return out;
}

/* Run a shell command inside the test directory; its exit status. */
static int in_dir(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof(full), "cd '%s' && %s", dir, cmd);
    return system(full);
}

static int setup(void **state)
{
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    snprintf(dir, sizeof(dir), "/tmp/tspool-tls-XXXXXX");
    if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0) {
        return -1;
    }
    /* a CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA */
    if (in_dir("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
               "-days 2 -subj '/CN=tspool test CA' >/dev/null 2>&1 && "
               "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
               "-subj '/CN=127.0.0.1' >/dev/null 2>&1 && "
               "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && "
               "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
               "-out srv.crt -days 2 -extfile ext >/dev/null 2>&1 && "
               "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt "
               "-days 2 -subj '/CN=another CA' >/dev/null 2>&1 && "
               "printf 'not a key\\n' > garbage.key && chmod 0644 *.crt && chmod 0600 *.key") !=
        0) {
        fprintf(stderr, "openssl could not make the test certificates\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    if (reload_svc != NULL) {
        tsp_test_service_stop(reload_svc);
        reload_svc = NULL;
    }
    if (db_ssl_on) {
        free(tsp_test_pg_query("ALTER SYSTEM RESET ssl"));
        free(tsp_test_pg_query("ALTER SYSTEM RESET ssl_cert_file"));
        free(tsp_test_pg_query("ALTER SYSTEM RESET ssl_key_file"));
        free(tsp_test_pg_query("SELECT pg_reload_conf()"));
        db_ssl_on = false;
    }
    (void)in_dir("rm -f *.crt *.key *.csr *.srl *.tmp ext");
    rmdir(dir);
    return rel_teardown(state);
}

static size_t keep(char *ptr, size_t size, size_t nmemb, void *userp)
{
    (void)ptr;
    (void)userp;
    return size * nmemb;
}

/* GET url over TLS trusting ca; *status the HTTP status. Returns curl's code. */
static CURLcode https_get(const char *url, const char *ca, long max_tls, long *status)
{
    CURL *curl = curl_easy_init();
    CURLcode cc;

    assert_non_null(curl);
    *status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep);
    if (max_tls != 0) {
        curl_easy_setopt(curl, CURLOPT_SSLVERSION, max_tls);
    }
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    }
    curl_easy_cleanup(curl);
    return cc;
}

static struct tsp_test_service *start_tls(const char *min_version)
{
    static char cert[200], key[200], min[64];
    const char *env[] = {cert, key, min, NULL};

    snprintf(cert, sizeof(cert), "TSPOOL_TLS_CERT_FILE=%s", path_of("srv.crt"));
    snprintf(key, sizeof(key), "TSPOOL_TLS_KEY_FILE=%s", path_of("srv.key"));
    snprintf(min, sizeof(min), "TSPOOL_TLS_MIN_VERSION=%s", min_version);
    /* the harness waits for plain-HTTP /livez, which a TLS port never answers */
    return tsp_test_service_spawn(env);
}

static long wait_https(const struct tsp_test_service *svc, const char *path)
{
    char url[256];
    long status = 0;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", tsp_test_service_port(svc), path);
    for (int i = 0; i < 200; i++) {
        if (https_get(url, path_of("ca.crt"), 0, &status) == CURLE_OK) {
            return status;
        }
        tsp_test_sleep_ms(100);
    }
    return 0;
}

static void test_tls_listener_serves_https(void **state)
{
    struct tsp_test_service *svc = start_tls("1.2");
    char url[256];
    long status = 0;
    CURLcode cc;
    (void)state;

    assert_int_equal(wait_https(svc, "/livez"), 200);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/pool/status", tsp_test_service_port(svc));
    assert_int_equal(https_get(url, path_of("ca.crt"), 0, &status), CURLE_OK);
    assert_int_equal(status, 200);
    /* a client that does not trust the CA refuses the certificate */
    cc = https_get(url, path_of("other.crt"), 0, &status);
    assert_int_equal(cc, CURLE_PEER_FAILED_VERIFICATION);
    /* TLS 1.1 and older are refused */
    cc = https_get(url, path_of("ca.crt"), CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1,
                   &status);
    assert_int_equal(cc, CURLE_SSL_CONNECT_ERROR);
    /* plain HTTP to the TLS port fails cleanly and fast, and the port keeps serving TLS */
    {
        char plain[256];
        long elapsed = 0;
        snprintf(plain, sizeof(plain), "http://127.0.0.1:%d/livez", tsp_test_service_port(svc));
        assert_int_equal(rel_get(plain, "", 5000, &elapsed), 0);
        assert_true(elapsed < 5000);
    }
    assert_int_equal(https_get(url, path_of("ca.crt"), 0, &status), CURLE_OK);
    assert_int_equal(status, 200);
    tsp_test_service_signal(svc, SIGTERM);
    assert_int_equal(tsp_test_service_wait(svc, 20000), 0);
    tsp_test_service_stop(svc);
}

/* The subject of the certificate a new connection to url is served, into out. */
static CURLcode served_subject(const char *url, char *out, size_t size)
{
    CURL *h = curl_easy_init();
    struct curl_certinfo *info = NULL;
    CURLcode cc;

    out[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, path_of("ca.crt"));
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK && curl_easy_getinfo(h, CURLINFO_CERTINFO, &info) == CURLE_OK &&
        info != NULL && info->num_of_certs > 0) {
        for (struct curl_slist *l = info->certinfo[0]; l != NULL; l = l->next) {
            if (strncmp(l->data, "Subject:", 8) == 0) {
                snprintf(out, size, "%s", l->data + 8);
            }
        }
    }
    curl_easy_cleanup(h);
    return cc;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Replace path with the file `from` the way a Secret or cert-manager volume does: a copy
 * beside it, renamed over it. */
static void swap_in(const char *from, const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.tmp' && mv -f '%s.tmp' '%s'", from, path, path, path);
    assert_int_equal(system(cmd), 0);
}

static void test_tls_certificate_reload(void **state)
{
    static char cert[200], key[200];
    const char *env[] = {cert, key, NULL};
    struct tsp_test_service *svc = NULL;
    char url[256], subject[512] = "";
    CURL *keep = NULL;
    long status = 0, connects = -1, waited = 0;
    char *out = NULL;
    (void)state;

    /* a renewed certificate for the same name from the same CA, and a mismatched pair */
    assert_int_equal(in_dir("openssl req -newkey rsa:2048 -nodes -keyout renewed.key -out "
                            "renewed.csr -subj '/O=renewed/CN=127.0.0.1' >/dev/null 2>&1 && "
                            "openssl x509 -req -in renewed.csr -CA ca.crt -CAkey ca.key "
                            "-CAcreateserial -out renewed.crt -days 2 -extfile ext "
                            ">/dev/null 2>&1 && cp srv.crt live.crt && cp srv.key live.key && "
                            "chmod 0644 *.crt && chmod 0600 *.key"),
                     0);
    snprintf(cert, sizeof(cert), "TSPOOL_TLS_CERT_FILE=%s", path_of("live.crt"));
    snprintf(key, sizeof(key), "TSPOOL_TLS_KEY_FILE=%s", path_of("live.key"));
    svc = tsp_test_service_spawn(env);
    reload_svc = svc;
    assert_int_equal(wait_https(svc, "/livez"), 200);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/livez", tsp_test_service_port(svc));
    assert_int_equal(served_subject(url, subject, sizeof(subject)), CURLE_OK);
    assert_null(strstr(subject, "renewed"));

    /* a keep-alive connection opened before the renewal */
    keep = curl_easy_init();
    curl_easy_setopt(keep, CURLOPT_URL, url);
    curl_easy_setopt(keep, CURLOPT_CAINFO, path_of("ca.crt"));
    curl_easy_setopt(keep, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(keep, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(keep), CURLE_OK);

    /* cert-manager renews: key and certificate replaced */
    swap_in(path_of("renewed.key"), path_of("live.key"));
    swap_in(path_of("renewed.crt"), path_of("live.crt"));
    for (waited = 0; waited < 10000; waited += 100) {
        if (served_subject(url, subject, sizeof(subject)) == CURLE_OK &&
            strstr(subject, "renewed") != NULL) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_non_null(strstr(subject, "renewed"));
    printf("renewed certificate served after %ld ms\n", waited);
    /* the connection from before is not dropped: same connection, no new handshake */
    assert_int_equal(curl_easy_perform(keep), CURLE_OK);
    curl_easy_getinfo(keep, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(keep, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(status, 200);
    assert_int_equal(connects, 0);
    curl_easy_cleanup(keep);

    /* a certificate whose key is not there: the renewed pair stays in service */
    swap_in(path_of("other.crt"), path_of("live.crt"));
    tsp_test_sleep_ms(1500);
    assert_int_equal(served_subject(url, subject, sizeof(subject)), CURLE_OK);
    assert_non_null(strstr(subject, "renewed"));
    assert_int_equal(tsp_test_service_wait(svc, 0), -1);

    tsp_test_service_signal(svc, SIGTERM);
    assert_int_equal(tsp_test_service_wait(svc, 20000), 0);
    out = tsp_test_service_stdout(svc);
    assert_non_null(strstr(out, "\"event\":\"tls.reload\""));
    assert_non_null(strstr(out, "TLS certificate reloaded"));
    assert_non_null(strstr(out, "keeping the previous certificate"));
    free(out);
    tsp_test_service_stop(svc);
    reload_svc = NULL;
}

static void test_tls_min_version_13(void **state)
{
    struct tsp_test_service *svc = start_tls("1.3");
    char url[256];
    long status = 0;
    (void)state;

    assert_int_equal(wait_https(svc, "/livez"), 200);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/livez", tsp_test_service_port(svc));
    assert_int_equal(https_get(url, path_of("ca.crt"),
                               CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2, &status),
                     CURLE_SSL_CONNECT_ERROR);
    tsp_test_service_stop(svc);
}

static size_t count_close(char *ptr, size_t size, size_t nmemb, void *userp)
{
    bool *closing = userp;
    size_t n = size * nmemb;

    if (n >= 17 && strncasecmp(ptr, "Connection: close", 17) == 0) {
        *closing = true;
    }
    return n;
}

/* Plain bytes to the TLS port: the handshake fails and CivetWeb closes the connection. */
static void failed_handshake(int port)
{
    static const char plain[] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
    struct sockaddr_in addr;
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    char buf[256];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        write(fd, plain, sizeof(plain) - 1) > 0) {
        while (read(fd, buf, sizeof(buf)) > 0) {
        }
    }
    close(fd);
}

/* Issue 9: failed TLS handshakes (load-balancer TCP checks, plain HTTP) must not lower the
 * count of connections held by workers, which the keep-alive fairness rule reads: with both
 * workers held, a keep-alive connection is still closed after 32 requests. */
static void test_tls_failed_handshakes_keep_fairness(void **state)
{
    static char cert[200], key[200];
    const char *env[] = {cert, key, "TSPOOL_HTTP_THREADS=2", "TSPOOL_HTTP_KEEP_ALIVE_MS=30000",
                         NULL};
    struct tsp_test_service *svc = NULL;
    char url[256];
    CURL *holder = NULL;
    CURL *busy = NULL;
    bool closing = false;
    long status = 0;
    int closed_at = 0;
    (void)state;

    snprintf(cert, sizeof(cert), "TSPOOL_TLS_CERT_FILE=%s", path_of("srv.crt"));
    snprintf(key, sizeof(key), "TSPOOL_TLS_KEY_FILE=%s", path_of("srv.key"));
    svc = tsp_test_service_spawn(env);
    assert_int_equal(wait_https(svc, "/livez"), 200);
    for (int i = 0; i < 20; i++) {
        failed_handshake(tsp_test_service_port(svc));
    }
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/livez", tsp_test_service_port(svc));
    /* one keep-alive connection stays open and holds the second worker */
    holder = curl_easy_init();
    busy = curl_easy_init();
    assert_non_null(holder);
    assert_non_null(busy);
    curl_easy_setopt(holder, CURLOPT_URL, url);
    curl_easy_setopt(holder, CURLOPT_CAINFO, path_of("ca.crt"));
    curl_easy_setopt(holder, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(holder, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(holder), CURLE_OK);
    curl_easy_setopt(busy, CURLOPT_URL, url);
    curl_easy_setopt(busy, CURLOPT_CAINFO, path_of("ca.crt"));
    curl_easy_setopt(busy, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(busy, CURLOPT_HEADERFUNCTION, count_close);
    curl_easy_setopt(busy, CURLOPT_HEADERDATA, &closing);
    curl_easy_setopt(busy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(busy, CURLOPT_TIMEOUT_MS, 10000L);
    for (int i = 1; i <= 40 && closed_at == 0; i++) {
        closing = false;
        assert_int_equal(curl_easy_perform(busy), CURLE_OK);
        curl_easy_getinfo(busy, CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        if (closing) {
            closed_at = i;
        }
    }
    printf("after 20 failed handshakes, the busy keep-alive connection was closed after %d "
           "requests\n",
           closed_at);
    /* before: the count went negative and the rule never fired */
    assert_int_equal(closed_at, 32);
    curl_easy_cleanup(busy);
    curl_easy_cleanup(holder);
    tsp_test_service_stop(svc);
}

static void expect_start_failure(const char *cert, const char *key, const char *message)
{
    char cert_env[200], key_env[200];
    const char *env[] = {cert_env, key_env, NULL};
    struct tsp_test_service *svc = NULL;
    char *err = NULL;

    snprintf(cert_env, sizeof(cert_env), "TSPOOL_TLS_CERT_FILE=%s", cert);
    snprintf(key_env, sizeof(key_env), "TSPOOL_TLS_KEY_FILE=%s", key);
    svc = tsp_test_service_spawn(env);
    assert_int_equal(tsp_test_service_wait(svc, 20000), 1);
    err = tsp_test_service_stderr(svc);
    if (strstr(err, message) == NULL) {
        fail_msg("expected \"%s\" in:\n%s", message, err);
    }
    free(err);
    tsp_test_service_stop(svc);
}

static void test_tls_bad_key_files_stop_start_up(void **state)
{
    char expect[400];
    (void)state;

    snprintf(expect, sizeof(expect),
             "tspool: TSPOOL_TLS_KEY_FILE: cannot load a PEM private key from \"%s\": ",
             path_of("garbage.key"));
    expect_start_failure(path_of("srv.crt"), path_of("garbage.key"), expect);
    snprintf(expect, sizeof(expect),
             "tspool: TSPOOL_TLS_KEY_FILE: cannot load a PEM private key from \"%s\": ",
             path_of("missing.key"));
    expect_start_failure(path_of("srv.crt"), path_of("missing.key"), expect);
    snprintf(expect, sizeof(expect),
             "tspool: TSPOOL_TLS_KEY_FILE: the key in \"%s\" does not belong to the certificate "
             "in \"%s\"",
             path_of("other.key"), path_of("srv.crt"));
    expect_start_failure(path_of("srv.crt"), path_of("other.key"), expect);
    snprintf(expect, sizeof(expect),
             "tspool: TSPOOL_TLS_CERT_FILE: cannot load a PEM certificate from \"%s\": ",
             path_of("garbage.key"));
    expect_start_failure(path_of("garbage.key"), path_of("srv.key"), expect);
}

/* The test server gets ssl=on with the test certificate; tspool verifies it by DB_SSLROOTCERT. */
static void test_tls_database_verify_full(void **state)
{
    char sql[512];
    char root[200];
    const char *env[] = {"DB_SSLMODE=verify-full", root, NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_reply *r = NULL;
    char url[256];
    char *got = NULL;
    (void)state;

    /* the server process must own its key (root runs the server as postgres) */
    if (getuid() == 0) {
        assert_int_equal(in_dir("chown postgres srv.key srv.crt"), 0);
    }
    snprintf(sql, sizeof(sql), "ALTER SYSTEM SET ssl_cert_file = '%s'", path_of("srv.crt"));
    free(tsp_test_pg_query(sql));
    snprintf(sql, sizeof(sql), "ALTER SYSTEM SET ssl_key_file = '%s'", path_of("srv.key"));
    free(tsp_test_pg_query(sql));
    free(tsp_test_pg_query("ALTER SYSTEM SET ssl = on"));
    db_ssl_on = true;
    free(tsp_test_pg_query("SELECT pg_reload_conf()"));
    assert_true(tsp_test_wait_query("SHOW ssl", "on", 10000));

    snprintf(root, sizeof(root), "DB_SSLROOTCERT=%s", path_of("ca.crt"));
    svc = rel_start(env);
    snprintf(url, sizeof(url), "%s/pool/ping", tsp_test_service_url(svc));
    r = tsp_test_http("GET", url, NULL, NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    got = tsp_test_pg_query("SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                            "USING (pid) WHERE a.application_name = '" TSP_TEST_APP_NAME "'");
    assert_non_null(got);
    assert_string_equal(got, "t");
    free(got);
    rel_stop(svc);

    /* a root certificate that did not sign the server's: refused, with libpq's reason */
    snprintf(root, sizeof(root), "DB_SSLROOTCERT=%s", path_of("other.crt"));
    svc = rel_start(env);
    snprintf(url, sizeof(url), "%s/pool/ping", tsp_test_service_url(svc));
    r = tsp_test_http("GET", url, NULL, NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "certificate verify failed"));
    tsp_test_reply_free(r);
    rel_stop(svc);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_listener_serves_https),
        cmocka_unit_test(test_tls_min_version_13),
        cmocka_unit_test(test_tls_failed_handshakes_keep_fairness),
        cmocka_unit_test(test_tls_bad_key_files_stop_start_up),
        cmocka_unit_test(test_tls_database_verify_full),
        cmocka_unit_test(test_tls_certificate_reload),
    };
    return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
