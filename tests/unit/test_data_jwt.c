/*
 * Unit tests of the data plugin's authentication parts: base64url and
 * HS256 tokens with their claims checks at a fixed time (data_jwt.c), and
 * the grant lines and role claim paths (data_role.c).
 */
#include <check.h>
#include <openssl/evp.h>
#include <plughttpd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_conf.h"
#include "data_jwt.h"
#include "data_role.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW 1700000000

static long decode(const char *s, unsigned char *out)
{
    return data_jwt_b64url_decode(s, strlen(s), out);
}

START_TEST(b64url_decodes_and_refuses_every_other_spelling)
{
    unsigned char out[16];
    ck_assert_int_eq(decode("", out), 0);
    ck_assert_int_eq(decode("YQ", out), 1);
    ck_assert_int_eq(out[0], 'a');
    ck_assert_int_eq(decode("YWI", out), 2);
    ck_assert_int_eq(decode("YWJj", out), 3);
    ck_assert_int_eq(memcmp(out, "abc", 3), 0);
    ck_assert_int_eq(decode("-_8", out), 2); /* 0xfb 0xff */
    ck_assert_int_eq(out[0], 0xfb);
    ck_assert_int_eq(out[1], 0xff);
    ck_assert_int_eq(decode("YQ==", out), -1);  /* padding */
    ck_assert_int_eq(decode("Y", out), -1);     /* 6 bits */
    ck_assert_int_eq(decode("YR", out), -1);    /* spare bits set */
    ck_assert_int_eq(decode("+/8", out), -1);   /* base64, not base64url */
    ck_assert_int_eq(decode("YW J", out), -1);
}
END_TEST

static char *b64url(const unsigned char *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        if (i + 1 < n)
            *o++ = a[(v >> 6) & 63];
        if (i + 2 < n)
            *o++ = a[v & 63];
    }
    *o = '\0';
    return out;
}

/* An HS256 token of header and claims (JSON texts) signed with SECRET. */
static char *hs256(const char *header, const char *claims)
{
    char *h = b64url((const unsigned char *)header, strlen(header));
    char *c = b64url((const unsigned char *)claims, strlen(claims));
    char *tok = malloc(strlen(h) + strlen(c) + 64);
    sprintf(tok, "%s.%s", h, c);
    unsigned char mac[32];
    size_t maclen;
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, SECRET, strlen(SECRET),
                                    (const unsigned char *)tok, strlen(tok), mac, sizeof mac, &maclen));
    char *s = b64url(mac, maclen);
    strcat(tok, ".");
    strcat(tok, s);
    free(h);
    free(c);
    free(s);
    return tok;
}

static data_jwt_keys_t *keys(void)
{
    data_role_conf_t c = {.jwt_secret = SECRET};
    char err[128];
    data_jwt_keys_t *k = data_jwt_keys_load(&c, err, sizeof err);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* The message of the refusal of claims at NOW, or "ok". */
static const char *verdict(const char *header, const char *claims, const char *aud)
{
    static char msg[128];
    data_jwt_keys_t *k = keys();
    char *tok = hs256(header, claims);
    json_t *out;
    data_jwt_err_t e;
    int rc = data_jwt_verify(k, tok, strlen(tok), NOW, aud, &out, &e);
    snprintf(msg, sizeof msg, "%s", rc == PH_OK ? "ok" : e.msg);
    if (rc == PH_OK)
        json_decref(out);
    free(tok);
    data_jwt_keys_free(k);
    return msg;
}

START_TEST(claims_are_checked_with_30_seconds_of_leeway)
{
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    ck_assert_str_eq(verdict(h, "{\"exp\":1699999970}", NULL), "ok");
    ck_assert_str_eq(verdict(h, "{\"exp\":1699999969}", NULL), "JWT expired");
    ck_assert_str_eq(verdict(h, "{\"exp\":1699999969.5}", NULL), "JWT expired");
    ck_assert_str_eq(verdict(h, "{\"nbf\":1700000030}", NULL), "ok");
    ck_assert_str_eq(verdict(h, "{\"nbf\":1700000031}", NULL), "JWT not yet valid");
    ck_assert_str_eq(verdict(h, "{\"iat\":1700000031}", NULL), "JWT issued at future");
    ck_assert_str_eq(verdict(h, "{\"exp\":\"soon\"}", NULL), "The JWT 'exp' claim must be a number");
    ck_assert_str_eq(verdict(h, "{\"aud\":\"a\"}", "a"), "ok");
    ck_assert_str_eq(verdict(h, "{\"aud\":\"b\"}", "a"), "JWT not in audience");
    ck_assert_str_eq(verdict(h, "{\"aud\":[\"b\",\"a\"]}", "a"), "ok");
    ck_assert_str_eq(verdict(h, "{\"aud\":[]}", "a"), "ok");
    ck_assert_str_eq(verdict(h, "{\"aud\":[1]}", "a"), "The JWT 'aud' claim must be a string or an array of strings");
    ck_assert_str_eq(verdict(h, "{\"aud\":\"b\"}", NULL), "ok"); /* no audience configured */
    ck_assert_str_eq(verdict(h, "{}", NULL), "ok");
    ck_assert_str_eq(verdict(h, "[]", NULL), "Parsing claims failed");
    ck_assert_str_eq(verdict(h, "{\"a\":1,\"a\":2}", NULL), "Parsing claims failed");
}
END_TEST

START_TEST(headers_name_a_known_algorithm_with_a_key)
{
    const char *c = "{}";
    ck_assert_str_eq(verdict("{\"alg\":\"HS256\"}", c, NULL), "ok");
    ck_assert_str_eq(verdict("{\"alg\":\"none\"}", c, NULL), "Wrong or unsupported encoding algorithm");
    ck_assert_str_eq(verdict("{\"alg\":\"HS512\"}", c, NULL), "Wrong or unsupported encoding algorithm");
    ck_assert_str_eq(verdict("{\"typ\":\"JWT\"}", c, NULL), "Wrong or unsupported encoding algorithm");
    ck_assert_str_eq(verdict("{\"alg\":\"RS256\"}", c, NULL), "No suitable key or wrong key type");
    ck_assert_str_eq(verdict("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", c, NULL), "Unsupported token type");
    ck_assert_str_eq(verdict("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", c, NULL),
                     "Wrong or unsupported encoding algorithm");
}
END_TEST

START_TEST(grants_add_up_per_role_and_table)
{
    data_role_conf_t c = {0};
    ph_error_t err = {0};
    bool mine;
    ph_kv_t g1 = {"grant", "anon notes:GET"}, g2 = {"grant", " editor  notes:POST,PATCH  *:GET "},
            bad = {"grant", "editor notes:FETCH"}, other = {"tables", "x"};
    ck_assert_int_eq(data_role_conf_key(&c, "", &g1, 0, &mine, &err), PH_OK);
    ck_assert(mine);
    ck_assert_int_eq(data_role_conf_key(&c, "", &g2, 1, &mine, &err), PH_OK);
    ck_assert_int_eq(data_role_conf_key(&c, "", &other, 2, &mine, &err), PH_OK);
    ck_assert(!mine);
    ck_assert_int_eq(data_role_conf_key(&c, "", &bad, 3, &mine, &err), PH_ERROR);
    ck_assert_int_eq(err.key, 3);
    ck_assert(data_role_allows(&c, "anon", "notes", DATA_M_GET));
    ck_assert(data_role_allows(&c, "anon", "notes", DATA_M_HEAD));
    ck_assert(!data_role_allows(&c, "anon", "notes", DATA_M_POST));
    ck_assert(!data_role_allows(&c, "anon", "tags", DATA_M_GET));
    ck_assert(data_role_allows(&c, "editor", "tags", DATA_M_GET));
    ck_assert(data_role_allows(&c, "editor", "notes", DATA_M_PATCH));
    ck_assert(!data_role_allows(&c, "editor", "notes", DATA_M_DELETE));
    ck_assert(!data_role_allows(&c, "Editor", "notes", DATA_M_GET));
    char *tables[] = {"notes"};
    ck_assert_int_eq(data_role_conf_finish(&c, tables, 1, &err), PH_ERROR); /* no key, no anon_role */
    data_role_conf_free(&c);
}
END_TEST

static const char *claim(const char *path, const char *claims)
{
    data_role_conf_t c = {0};
    ph_error_t err = {0};
    bool mine;
    ph_kv_t kv = {"jwt_role_claim", path};
    static char out[64];
    if (data_role_conf_key(&c, "", &kv, 0, &mine, &err) != PH_OK)
        return "refused";
    json_t *j = json_loads(claims, 0, NULL);
    const json_t *v = data_role_claim(&c, j);
    snprintf(out, sizeof out, "%s", json_is_string(v) ? json_string_value(v) : v ? "other" : "none");
    json_decref(j);
    data_role_conf_free(&c);
    return out;
}

START_TEST(role_claim_paths)
{
    ck_assert_str_eq(claim(".role", "{\"role\":\"a\"}"), "a");
    ck_assert_str_eq(claim("role", "{\"role\":\"a\"}"), "a");
    ck_assert_str_eq(claim(".app.role", "{\"app\":{\"role\":\"b\"}}"), "b");
    ck_assert_str_eq(claim(".\"https://x.example/r\"", "{\"https://x.example/r\":\"c\"}"), "c");
    ck_assert_str_eq(claim(".roles[1]", "{\"roles\":[\"d\",\"e\"]}"), "e");
    ck_assert_str_eq(claim(".roles[2]", "{\"roles\":[\"d\",\"e\"]}"), "none");
    ck_assert_str_eq(claim(".app", "{\"app\":{}}"), "other");
    ck_assert_str_eq(claim(".a..b", "{}"), "refused");
    ck_assert_str_eq(claim(".a[-1]", "{}"), "refused");
    ck_assert_str_eq(claim(".\"open", "{}"), "refused");
}
END_TEST

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("data_jwt");
    TCase *t = tcase_create("jwt");
    tcase_add_test(t, b64url_decodes_and_refuses_every_other_spelling);
    tcase_add_test(t, claims_are_checked_with_30_seconds_of_leeway);
    tcase_add_test(t, headers_name_a_known_algorithm_with_a_key);
    suite_add_tcase(s, t);
    TCase *r = tcase_create("roles");
    tcase_add_test(r, grants_add_up_per_role_and_table);
    tcase_add_test(r, role_claim_paths);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
