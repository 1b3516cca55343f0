#!/usr/bin/env python3
"""The data plugin's authentication and roles (PostgREST's model): JWTs in
"Authorization: Bearer", HS256, RS256 and ES256, claims checks, the
anonymous role, grant lines (SQLite, MariaDB, and PostgreSQL when given)
and, on PostgreSQL, each statement run as the request's role with
request.jwt.claims set (PgRolesTest: privileges and row security decide).
Without PostgreSQL or MariaDB binaries their classes fail: CI installs
them.

Tokens are built here: HS256 with hmac, RS256 and ES256 with keys made
and signatures computed by the openssl command line (python3 need not
have a crypto module)."""

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from data_cases import jbody, schema_text
from harness import Server, server_ini

SECRET = "a-secret-of-more-than-32-bytes-for-tests"
AUD = "plughttpd-tests"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(der):
    """An ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) as R || S, 32
    bytes each, as JWS wants it."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


class Keys:
    """An RSA and an EC P-256 key pair in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="phjwt-")
        for name, args in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                           ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                           ("rsa2", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])):
            key = os.path.join(self.dir, name + ".key")
            subprocess.run(["openssl", "genpkey"] + args + ["-out", key], check=True, capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", self.pub(name)], check=True,
                           capture_output=True)

    def pub(self, name):
        return os.path.join(self.dir, name + ".pub")

    def pem(self, name):
        with open(self.pub(name)) as f:
            return f.read()

    def sign(self, name, data):
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(self.dir, name + ".key")],
                           input=data, check=True, capture_output=True)
        return der_to_raw(p.stdout) if name == "ec" else p.stdout

    def jwk(self, name, **extra):
        """The public key as a JSON Web Key (RFC 7518 section 6): n and e
        of an RSA key, x and y of an EC P-256 one."""
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", self.pub(name), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        if name == "ec":
            point = der[-65:]  # the BIT STRING's uncompressed point: 04 || x || y
            assert point[0] == 4
            key = {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:])}
        else:
            out = subprocess.run(["openssl", "rsa", "-pubin", "-in", self.pub(name), "-noout", "-modulus"],
                                 check=True, capture_output=True, text=True).stdout
            n = bytes.fromhex(out.strip().split("=", 1)[1])
            key = {"kty": "RSA", "n": b64url(n), "e": b64url((65537).to_bytes(3, "big"))}
        key.update(extra)
        return key

    def destroy(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def token(claims, alg="HS256", keys=None, key="rsa", secret=SECRET, header=None, kid=None):
    """A signed JWT: HS256 with secret, RS256 with keys' key (default the
    RSA key), ES256 with the EC key."""
    h = header if header is not None else {"alg": alg, "typ": "JWT"}
    if kid is not None:
        h = dict(h, kid=kid)
    signing = (b64url(json.dumps(h).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    if alg == "HS256":
        sig = hmac.new(secret if isinstance(secret, bytes) else secret.encode(), signing, hashlib.sha256).digest()
    elif alg == "RS256":
        sig = keys.sign(key, signing)
    elif alg == "ES256":
        sig = keys.sign("ec" if key == "rsa" else key, signing)
    else:
        sig = b""
    return signing.decode() + "." + b64url(sig)


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


class JwtCases:
    """What every backend answers the same. A subclass starts self.srv with
    route_keys() on /api (anon_role, grants, audience) and /strict (the RSA
    key only, no anonymous role, the role at .app.role)."""

    keys = None

    @classmethod
    def setUpClass(cls):
        cls.keys = Keys()

    @classmethod
    def tearDownClass(cls):
        if cls.keys is not None:
            cls.keys.destroy()

    def route_keys(self):
        k = self.keys
        return ("jwt_secret = %s\njwt_key_file = %s\njwt_key_file = %s\njwt_aud = %s\nanon_role = web_anon\n"
                "grant = web_anon notes:GET\ngrant = writer notes:GET,POST,PATCH,DELETE kinds:*\n"
                % (SECRET, k.pub("rsa"), k.pub("ec"), AUD),
                "jwt_key_file = %s\njwt_role_claim = .app.role\ngrant = writer *:*\n" % k.pub("rsa"))

    def req(self, method, path, obj=None, headers=None):
        h = {"Content-Type": "application/json"} if obj is not None else {}
        h.update(headers or {})
        body = json.dumps(obj).encode() if obj is not None else None
        return self.srv.get(path, method=method, body=body, headers=h)

    def claims(self, role="writer", **extra):
        c = {"role": role, "sub": "alice", "exp": int(time.time()) + 300}
        c.update(extra)
        return c

    def assertRefused(self, r, status, code, message, www=None, details=None):
        self.assertEqual(r.status, status, r.body)
        e = jbody(r)
        self.assertEqual((e["code"], e["message"], e["status"]), (code, message, status), e)
        if details is not None:
            self.assertEqual(e["details"], details)
        self.assertEqual(r.header("WWW-Authenticate"), www)
        return e

    def assertInvalid(self, r, code, message, details=None):
        return self.assertRefused(r, 401, code, message,
                                  'Bearer error="invalid_token", error_description="%s"' % message, details)

    # --- valid tokens ---------------------------------------------------------
    def test_valid_token_of_each_algorithm_reads_and_writes(self):
        for alg in ("HS256", "RS256", "ES256"):
            tok = token(self.claims(), alg, self.keys)
            r = self.req("POST", "/api/notes", {"title": alg},
                         headers=dict(bearer(tok), Prefer="return=representation"))
            self.assertEqual(r.status, 201, (alg, r.body))
            self.assertEqual(jbody(r)[0]["title"], alg)
            g = self.req("GET", "/api/notes?select=title&title=eq." + alg, headers=bearer(tok))
            self.assertEqual((g.status, jbody(g)), (200, [{"title": alg}]), alg)

    def test_expiry_within_leeway_passes(self):
        tok = token(self.claims(exp=int(time.time()) - 5))
        self.assertEqual(self.req("GET", "/api/notes", headers=bearer(tok)).status, 200)

    def test_bearer_scheme_is_case_insensitive(self):
        r = self.req("GET", "/api/notes", headers={"Authorization": "bearer " + token(self.claims())})
        self.assertEqual(r.status, 200, r.body)

    def test_audience_in_a_list_passes(self):
        tok = token(self.claims(aud=["other", AUD]))
        self.assertEqual(self.req("GET", "/api/notes", headers=bearer(tok)).status, 200)

    # --- refused tokens -------------------------------------------------------
    def test_expired_token_is_401(self):
        tok = token(self.claims(exp=int(time.time()) - 120))
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(tok)), "PGRST303", "JWT expired")

    def test_token_not_yet_valid_is_401(self):
        tok = token(self.claims(nbf=int(time.time()) + 300))
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(tok)), "PGRST303", "JWT not yet valid")

    def test_token_issued_in_the_future_is_401(self):
        tok = token(self.claims(iat=int(time.time()) + 300))
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(tok)), "PGRST303", "JWT issued at future")

    def test_exp_that_is_not_a_number_is_401(self):
        tok = token(self.claims(exp="tomorrow"))
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(tok)), "PGRST303",
                           "The JWT 'exp' claim must be a number")

    def test_other_audience_is_401(self):
        tok = token(self.claims(aud="other"))
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(tok)), "PGRST303", "JWT not in audience")

    def test_bad_signature_is_401(self):
        for alg in ("HS256", "RS256", "ES256"):
            tok = token(self.claims(), alg, self.keys)
            head, payload, sig = tok.split(".")
            forged = token(self.claims(role="admin"), alg, self.keys).split(".")[1]
            for bad in (head + "." + forged + "." + sig,             # claims changed
                        head + "." + payload + "." + sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")):
                self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(bad)), "PGRST301",
                                   "JWT cryptographic operation failed")
        other = token(self.claims(), secret=SECRET + "x")
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(other)), "PGRST301",
                           "JWT cryptographic operation failed")
        tok = token(self.claims(), "RS256", self.keys, key="rsa2")  # a key that is not configured
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(tok)), "PGRST301",
                           "JWT cryptographic operation failed")

    def test_alg_none_is_401(self):
        for unsigned in (token(self.claims(), alg="none"),
                         token(self.claims(), header={"alg": "none"}),
                         b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(self.claims()).encode()) + "."):
            self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(unsigned)), "PGRST301",
                               "Wrong or unsupported encoding algorithm",
                               "alg none is not accepted (HS256, RS256, ES256)")

    def test_algorithm_without_a_key_is_401(self):
        # /strict has the RSA key only: its PEM text as an HMAC secret is
        # the classic confusion, and must not verify.
        pem_signed = token({"app": {"role": "writer"}}, secret=self.keys.pem("rsa"))
        self.assertInvalid(self.req("GET", "/strict/notes", headers=bearer(pem_signed)), "PGRST301",
                           "No suitable key or wrong key type", "no HS256 key is configured")
        es = token({"app": {"role": "writer"}}, "ES256", self.keys)
        self.assertInvalid(self.req("GET", "/strict/notes", headers=bearer(es)), "PGRST301",
                           "No suitable key or wrong key type", "no ES256 key is configured")
        # An RS256 header over an ES256 signature.
        head = b64url(b'{"alg":"RS256"}')
        es_parts = es.split(".")
        self.assertInvalid(self.req("GET", "/strict/notes",
                                    headers=bearer(head + "." + es_parts[1] + "." + es_parts[2])),
                           "PGRST301", "JWT cryptographic operation failed")

    def test_malformed_tokens_are_401(self):
        tok = token(self.claims())
        head, payload, sig = tok.split(".")
        cases = [
            (head + "." + payload, "JWT couldn't be decoded", "Expected 3 parts in JWT; got 2"),
            (tok + ".x", "JWT couldn't be decoded", "Expected 3 parts in JWT; got 4"),
            (head + "==." + payload + "." + sig, "JWT couldn't be decoded",
             "the header is not base64url-encoded JSON"),
            (head.replace("e", "+", 1) + "." + payload + "." + sig, "JWT couldn't be decoded",
             "the header is not base64url-encoded JSON"),
            (b64url(b"not json") + "." + payload + "." + sig, "JWT couldn't be decoded",
             "the header is not base64url-encoded JSON"),
            (head + "." + payload + "." + sig + "=", "JWT cryptographic operation failed", None),
            (head + "." + payload + "." + sig[:-1], "JWT cryptographic operation failed", None),
            ("x" * 9000, "JWT couldn't be decoded", "tokens are at most 8192 bytes"),
        ]
        for bad, message, details in cases:
            with self.subTest(bad=bad[:40]):
                self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(bad)), "PGRST301", message,
                                   details)

    def test_claims_that_are_not_an_object_are_401(self):
        head = b64url(b'{"alg":"HS256"}')
        payload = b64url(b"[1,2]")
        sig = b64url(hmac.new(SECRET.encode(), (head + "." + payload).encode(), hashlib.sha256).digest())
        self.assertInvalid(self.req("GET", "/api/notes", headers=bearer(head + "." + payload + "." + sig)),
                           "PGRST303", "Parsing claims failed")

    def test_authorization_without_a_bearer_token_is_401(self):
        for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer   "):
            r = self.req("GET", "/api/notes", headers={"Authorization": value})
            self.assertEqual(r.status, 401, value)
            self.assertEqual(jbody(r)["code"], "PGRST301", value)

    # --- the anonymous role and grants -------------------------------------------
    def test_no_token_is_the_anonymous_role(self):
        self.assertEqual(self.req("GET", "/api/notes").status, 200)
        r = self.req("POST", "/api/notes", {"title": "anon"})
        self.assertRefused(r, 401, "42501", "permission denied for table notes", "Bearer")
        # HEAD goes with GET.
        self.assertEqual(self.req("HEAD", "/api/notes").status, 200)

    def test_no_token_without_anon_role_is_401(self):
        self.assertRefused(self.req("GET", "/strict/notes"), 401, "PGRST302", "Anonymous access is disabled",
                           "Bearer")

    def test_token_without_role_is_the_anonymous_role(self):
        tok = token({"sub": "x", "exp": int(time.time()) + 60})
        self.assertEqual(self.req("GET", "/api/notes", headers=bearer(tok)).status, 200)
        self.assertRefused(self.req("POST", "/api/notes", {"title": "t"}, headers=bearer(tok)), 401, "42501",
                           "permission denied for table notes", "Bearer")
        # Without anon_role such a token has no role at all.
        strict = token({"sub": "x"}, "RS256", self.keys)
        self.assertRefused(self.req("GET", "/strict/notes", headers=bearer(strict)), 401, "PGRST302",
                           "Anonymous access is disabled", "Bearer")

    def test_role_claim_path(self):
        tok = token({"app": {"role": "writer"}, "role": "nobody"}, "RS256", self.keys)
        self.assertEqual(self.req("GET", "/strict/notes", headers=bearer(tok)).status, 200)
        bad = token({"app": {"role": 7}}, "RS256", self.keys)
        self.assertInvalid(self.req("GET", "/strict/notes", headers=bearer(bad)), "PGRST303",
                           "Parsing claims failed")

    def test_role_without_a_grant_is_403(self):
        tok = token(self.claims())
        self.assertEqual(self.req("GET", "/api/kinds", headers=bearer(tok)).status, 200)
        r = self.req("PUT", "/api/notes?id=eq.1", {"id": 1, "title": "t", "body": None,
                                                   "created_at": "2024-01-01"}, headers=bearer(tok))
        self.assertRefused(r, 403, "42501", "permission denied for table notes")
        self.assertRefused(self.req("GET", "/api/kinds"), 401, "42501", "permission denied for table kinds",
                           "Bearer")
        # The item routes are checked too.
        self.assertRefused(self.req("DELETE", "/api/kinds/1"), 401, "42501", "permission denied for table kinds",
                           "Bearer")

    def test_cors_preflight_needs_no_token(self):
        r = self.req("OPTIONS", "/strict/notes", headers={"Origin": "https://app.example",
                                                          "Access-Control-Request-Method": "GET"})
        self.assertNotEqual(r.status, 401)


class GrantCases:
    """Grants enforced by the plugin (SQLite and MariaDB)."""

    def test_unknown_role_may_do_nothing(self):
        tok = token(self.claims(role="reader"))
        self.assertRefused(self.req("GET", "/api/notes", headers=bearer(tok)), 403, "42501",
                           "permission denied for table notes")

    def test_granted_methods_only(self):
        tok = token(self.claims())
        r = self.req("POST", "/api/notes", {"title": "g"}, headers=dict(bearer(tok), Prefer="return=representation"))
        self.assertEqual(r.status, 201, r.body)
        nid = jbody(r)[0]["id"]
        self.assertEqual(self.req("PATCH", "/api/notes?id=eq.%d" % nid, {"title": "h"}, headers=bearer(tok)).status,
                         204)
        self.assertEqual(self.req("DELETE", "/api/notes?id=eq.%d" % nid, headers=bearer(tok)).status, 204)
        self.assertEqual(self.req("GET", "/api/kinds", headers=bearer(tok)).status, 200)


class SqliteJwtTest(JwtCases, GrantCases, unittest.TestCase):
    def setUp(self):
        api, strict = self.route_keys()
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/a.db\nschema = schema.sql\n"
                  "tables = notes, kinds\ncors_origins = https://app.example\n%s\n"
                  "[route /strict]\nplugin = data\ndatabase = sqlite:data/a.db\nschema = schema.sql\ntables = notes\n"
                  "cors_origins = https://app.example\n%s\n" % (api, strict))
        self.srv = Server(server_ini(routes=routes, threads=2), files={"schema.sql": schema_text("sqlite")})
        self.addCleanup(self.srv.stop)

    def refused_config(self, keys, message, files=None):
        routes = "[route /api]\nplugin = data\ndatabase = sqlite:data/a.db\nschema = schema.sql\ntables = notes\n%s\n" % keys
        f = {"schema.sql": schema_text("sqlite")}
        f.update(files or {})
        srv = Server(server_ini(routes=routes), files=f, expect_ready=False)
        try:
            srv.proc.wait(15)
            self.assertNotEqual(srv.proc.returncode, 0)
            self.assertTrue(srv.wait_log(message, 5), srv.log())
        finally:
            srv.stop()

    def test_configuration_is_checked(self):
        self.refused_config("jwt_secret = short", r"jwt_secret: at least 32 bytes")
        self.refused_config("jwt_secret = @secret.txt", r"jwt_secret: \S+secret.txt holds fewer than 32 bytes",
                            {"secret.txt": "short\n"})
        self.refused_config("jwt_key_file = nokey.pem", r"jwt_key_file: cannot read \S+nokey.pem")
        self.refused_config("jwt_key_file = bad.pem", r"holds no PEM public key", {"bad.pem": "junk\n"})
        self.refused_config("anon_role = web_anon\ngrant = web_anon nosuch:GET",
                            r'grant: "nosuch" is not one of the exposed tables')
        self.refused_config("anon_role = a\ngrant = a notes:FETCH", r"grant: methods are GET")
        self.refused_config("grant = a notes:GET", r"grant needs jwt_secret, jwt_key_file or anon_role")
        self.refused_config("jwt_role_claim = .a..b", r"jwt_role_claim: expected a path")

    def test_secret_from_a_file(self):
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/b.db\nschema = schema.sql\ntables = notes\n"
                  "jwt_secret = @secret.txt\n")
        srv = Server(server_ini(routes=routes),
                     files={"schema.sql": schema_text("sqlite"), "secret.txt": SECRET + "\n"})
        self.addCleanup(srv.stop)
        r = srv.get("/api/notes", headers=bearer(token({"role": "r"})))
        # The token verifies; the role has no grant.
        self.assertEqual(r.status, 403, r.body)
        r = srv.get("/api/notes", headers=bearer(token({"role": "r"}, secret=SECRET + "\n")))
        self.assertEqual(r.status, 401, r.body)

    def test_postgrest_js_sends_the_token(self):
        import pgjs
        url = self.srv.url("/api")
        out = pgjs.run(url, "insert_one", "select_columns")
        self.assertEqual(out["insert_one"]["status"], 401)
        self.assertEqual((out["insert_one"]["error"]["code"], out["insert_one"]["error"]["message"]),
                         ("42501", "permission denied for table notes"))
        self.assertEqual((out["select_columns"]["status"], out["select_columns"]["data"]), (200, []))
        out = pgjs.run(url, "insert_one", "select_columns", token=token(self.claims(), "ES256", self.keys))
        self.assertEqual((out["insert_one"]["status"], out["insert_one"]["data"]), (201, [{"id": 1, "title": "one"}]))
        self.assertEqual(out["select_columns"]["data"], [{"id": 1, "title": "one"}])
        out = pgjs.run(url, "select_columns", token=token(self.claims(exp=int(time.time()) - 100)))
        err = out["select_columns"]["error"]
        self.assertEqual((out["select_columns"]["status"], err["code"], err["message"]),
                         (401, "PGRST303", "JWT expired"))

    def test_embedded_tables_need_their_own_grant(self):
        schema = ("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);\n"
                  "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER REFERENCES authors(id));\n"
                  "CREATE TABLE reviews (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES books(id), body TEXT);\n"
                  "INSERT INTO authors VALUES (1, 'Ann');\nINSERT INTO books VALUES (1, 'A1', 1);\n"
                  "INSERT INTO reviews VALUES (1, 1, 'good');\n")
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/e.db\nschema = schema.sql\n"
                  "tables = authors, books, reviews\njwt_secret = %s\nanon_role = web_anon\n"
                  "grant = web_anon books:GET reviews:GET\ngrant = reader books:GET authors:GET\n" % SECRET)
        srv = Server(server_ini(routes=routes), files={"schema.sql": schema})
        self.addCleanup(srv.stop)
        path = "/api/books?select=title,authors(name)"
        r = srv.get(path)
        self.assertRefused(r, 401, "42501", "permission denied for table authors", "Bearer")
        r = srv.get(path, headers=bearer(token({"role": "reader"})))
        self.assertEqual((r.status, jbody(r)), (200, [{"title": "A1", "authors": {"name": "Ann"}}]))
        # Nested: authors -> books -> reviews, reviews not granted to reader.
        r = srv.get("/api/authors?select=name,books(title,reviews(body))", headers=bearer(token({"role": "reader"})))
        self.assertRefused(r, 403, "42501", "permission denied for table reviews")
        r = srv.get("/api/books?select=title,reviews(body)")
        self.assertEqual((r.status, jbody(r)), (200, [{"title": "A1", "reviews": [{"body": "good"}]}]))

    def test_functions_need_a_grant_on_every_table(self):
        # A named query may read or change any table: a grant on "*" with
        # GET (GET, HEAD) or POST; the tables its rows embed need GET too.
        schema = ("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);\n"
                  "INSERT INTO authors VALUES (1, 'Ann');\n")
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/f.db\nschema = schema.sql\n"
                  "tables = authors\nrpc.names = SELECT name FROM authors WHERE id >= :min\n"
                  "jwt_secret = %s\nanon_role = web_anon\ngrant = web_anon authors:GET\n"
                  "grant = reader *:GET\ngrant = caller *:POST\n" % SECRET)
        srv = Server(server_ini(routes=routes), files={"schema.sql": schema})
        self.addCleanup(srv.stop)
        self.assertRefused(srv.get("/api/rpc/names?min=1"), 401, "42501", "permission denied for function names",
                           "Bearer")
        self.assertEqual(srv.get("/api/authors?select=name").status, 200)
        reader = bearer(token({"role": "reader"}))
        r = srv.get("/api/rpc/names?min=1", headers=reader)
        self.assertEqual((r.status, jbody(r)), (200, [{"name": "Ann"}]))
        h = dict(reader, **{"Content-Type": "application/json"})
        r = srv.get("/api/rpc/names", method="POST", body=b'{"min":1}', headers=h)
        self.assertRefused(r, 403, "42501", "permission denied for function names")
        h = dict(bearer(token({"role": "caller"})), **{"Content-Type": "application/json"})
        r = srv.get("/api/rpc/names", method="POST", body=b'{"min":1}', headers=h)
        self.assertEqual((r.status, jbody(r)), (200, [{"name": "Ann"}]))

    def jwks_server(self, keyset, extra=""):
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/k.db\nschema = schema.sql\ntables = notes\n"
                  "jwt_secret = @jwks.json\n%sgrant = reader notes:GET\n" % extra)
        srv = Server(server_ini(routes=routes),
                     files={"schema.sql": schema_text("sqlite"), "jwks.json": json.dumps(keyset)})
        self.addCleanup(srv.stop)
        return srv

    def test_key_set_selects_keys_by_kid(self):
        # PostgREST's jwt-secret as a JSON Web Key Set: an oct, an RSA and
        # an EC key, each with a kid, beside keys not for signatures or of
        # kinds the API does not verify (skipped, not refused)
        k = self.keys
        hs1, hs2 = b"0123456789abcdef0123456789abcdef-one", b"0123456789abcdef0123456789abcdef-two"
        keyset = {"keys": [{"kty": "oct", "kid": "h1", "k": b64url(hs1)},
                           {"kty": "oct", "kid": "h2", "k": b64url(hs2), "alg": "HS256", "use": "sig"},
                           k.jwk("rsa", kid="r1", use="sig"), k.jwk("rsa2", kid="r2"), k.jwk("ec", kid="e1"),
                           k.jwk("rsa", kid="enc", use="enc"),
                           {"kty": "OKP", "crv": "Ed25519", "x": b64url(b"\1" * 32), "kid": "ed"}]}
        srv = self.jwks_server(keyset)
        ok = [token({"role": "reader"}, "HS256", secret=hs1, kid="h1"),
              token({"role": "reader"}, "HS256", secret=hs2, kid="h2"),
              token({"role": "reader"}, "HS256", secret=hs2),            # no kid: every HS256 key is tried
              token({"role": "reader"}, "RS256", k, kid="r1"),
              token({"role": "reader"}, "RS256", k, key="rsa2", kid="r2"),
              token({"role": "reader"}, "RS256", k, key="rsa2"),
              token({"role": "reader"}, "ES256", k, kid="e1")]
        for i, tok in enumerate(ok):
            r = srv.get("/api/notes", headers=bearer(tok))
            self.assertEqual((i, r.status), (i, 200), r.body)
        for tok, code, msg, details in (
                (token({"role": "reader"}, "HS256", secret=hs2, kid="h1"), "PGRST301",
                 "JWT cryptographic operation failed", None),
                (token({"role": "reader"}, "RS256", k, key="rsa2", kid="r1"), "PGRST301",
                 "JWT cryptographic operation failed", None),
                (token({"role": "reader"}, "RS256", k, kid="e1"), "PGRST301", "No suitable key or wrong key type",
                 'no RS256 key with kid "e1" is configured'),
                (token({"role": "reader"}, "RS256", k, kid="enc"), "PGRST301", "No suitable key or wrong key type",
                 'no RS256 key with kid "enc" is configured'),
                (token({"role": "reader"}, "HS256", secret=hs1, header={"alg": "HS256", "kid": 7}), "PGRST301",
                 "JWT couldn't be decoded", "kid must be a string of at most 255 bytes")):
            r = srv.get("/api/notes", headers=bearer(tok))
            e = self.assertInvalid(r, code, msg)
            self.assertEqual(e["details"], details, e)

    def test_one_jwk_and_a_base64_secret(self):
        srv = self.jwks_server(self.keys.jwk("ec"))
        self.assertEqual(srv.get("/api/notes", headers=bearer(token({"role": "reader"}, "ES256", self.keys))).status,
                         200)
        self.assertEqual(srv.get("/api/notes", headers=bearer(token({"role": "reader"}, "RS256", self.keys))).status,
                         401)
        raw = bytes(range(200, 240))  # 40 bytes; its base64 has "+", "/" and padding
        b64 = base64.b64encode(raw).decode()
        self.assertTrue("+" in b64 or "/" in b64)
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/d.db\nschema = schema.sql\ntables = notes\n"
                  "jwt_secret = %s\njwt_secret_is_base64 = yes\ngrant = reader notes:GET\n" % b64)
        srv = Server(server_ini(routes=routes), files={"schema.sql": schema_text("sqlite")})
        self.addCleanup(srv.stop)
        self.assertEqual(srv.get("/api/notes", headers=bearer(token({"role": "reader"}, secret=raw))).status, 200)
        r = srv.get("/api/notes", headers=bearer(token({"role": "reader"}, secret=b64)))
        self.assertInvalid(r, "PGRST301", "JWT cryptographic operation failed")

    def test_key_set_configuration_is_checked(self):
        k = self.keys
        self.refused_config("jwt_secret = @k.json", r"jwt_secret: \S+k.json holds no key to verify tokens with",
                            {"k.json": json.dumps({"keys": [k.jwk("rsa", use="enc")]})})
        self.refused_config("jwt_secret = @k.json", r"jwt_secret: \S+k.json, key 2: its \"n\" and \"e\" are not "
                            r"base64url numbers",
                            {"k.json": json.dumps({"keys": [k.jwk("ec"), {"kty": "RSA", "n": "a+b", "e": "AQAB"}]})})
        self.refused_config("jwt_secret = @k.json", r"jwt_secret: \S+k.json, key 1: its secret is shorter than 32",
                            {"k.json": json.dumps({"kty": "oct", "k": b64url(b"short")})})
        self.refused_config("jwt_secret = @k.json", r"jwt_secret: \S+k.json, key 1: its point is not on the P-256",
                            {"k.json": json.dumps(dict(k.jwk("ec"), y=b64url(b"\2" * 32)))})
        self.refused_config("jwt_secret = @k.json", r"jwt_secret: \S+k.json is not a JSON Web Key or key set",
                            {"k.json": "{\"keys\": [}"})
        self.refused_config("jwt_secret = %s\njwt_secret_is_base64 = yes" % base64.b64encode(b"x" * 24).decode(),
                            r"jwt_secret: the value holds fewer than 32 bytes once decoded")
        self.refused_config("jwt_secret = %s!\njwt_secret_is_base64 = yes" % ("A" * 40),
                            r"jwt_secret: the value is not base64")
        self.refused_config("jwt_secret = %s\njwt_secret_is_base64 = maybe" % SECRET,
                            r"jwt_secret_is_base64: expected yes or no")

    def test_anon_role_without_a_key_refuses_tokens(self):
        routes = ("[route /api]\nplugin = data\ndatabase = sqlite:data/c.db\nschema = schema.sql\ntables = notes\n"
                  "anon_role = web_anon\ngrant = web_anon notes:GET\n")
        srv = Server(server_ini(routes=routes), files={"schema.sql": schema_text("sqlite")})
        self.addCleanup(srv.stop)
        self.assertEqual(srv.get("/api/notes").status, 200)
        r = srv.get("/api/notes", headers=bearer(token(self.claims())))
        self.assertEqual((r.status, jbody(r)["code"]), (500, "PGRST300"))



# --- PostgreSQL ----------------------------------------------------------------

PG_ROLES = """
CREATE ROLE web_anon NOLOGIN;
CREATE ROLE writer NOLOGIN;
CREATE ROLE reader NOLOGIN;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT web_anon, writer, reader TO authenticator;
"""

PG_GRANTS = """
GRANT SELECT ON notes TO web_anon;
GRANT ALL ON notes, kinds TO writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO writer;
"""

# Row security by the token's "sub", read from request.jwt.claims, which
# also fills the owner column; probe shows the role and claims a statement
# ran with.
PG_RLS = """
CREATE TABLE notes (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    title TEXT NOT NULL,
    owner TEXT DEFAULT current_setting('request.jwt.claims', true)::json->>'sub'
);
CREATE TABLE probe (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    who TEXT DEFAULT current_user,
    claims TEXT DEFAULT current_setting('request.jwt.claims', true)
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY anon_read ON notes FOR SELECT TO web_anon USING (true);
CREATE POLICY own ON notes FOR ALL TO writer
    USING (owner = current_setting('request.jwt.claims', true)::json->>'sub')
    WITH CHECK (owner = current_setting('request.jwt.claims', true)::json->>'sub');
GRANT SELECT ON notes TO web_anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO writer;
GRANT SELECT, INSERT ON probe TO web_anon, writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO web_anon, writer;
"""


class PgBase:
    cluster = None
    counter = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from pg import PgCluster
        cls.cluster = PgCluster()
        cls.cluster.psql(PG_ROLES)

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.destroy()
        super().tearDownClass()

    def fresh_db(self, sql):
        type(self).counter += 1
        name = "jwt%d_%d" % (os.getpid(), type(self).counter)
        self.cluster.create_db(name)
        self.cluster.psql(sql, db=name)
        self.db = name
        return "postgresql://authenticator@127.0.0.1:%d/%s" % (self.cluster.port, name)


class PgJwtTest(PgBase, JwtCases, GrantCases, unittest.TestCase):
    """The shared cases on PostgreSQL, grant lines given: the plugin's
    grants and the database's privileges both apply."""

    def setUp(self):
        uri = self.fresh_db(schema_text("pg") + PG_GRANTS)
        api, strict = self.route_keys()
        routes = ("[route /api]\nplugin = data\ndatabase = %s\ntables = notes, kinds\n"
                  "cors_origins = https://app.example\n%s\n"
                  "[route /strict]\nplugin = data\ndatabase = %s\ntables = notes\n"
                  "cors_origins = https://app.example\n%s\n" % (uri, api, uri, strict))
        self.srv = Server(server_ini(routes=routes, threads=2))
        self.addCleanup(self.srv.stop)


class PgRolesTest(PgBase, unittest.TestCase):
    """No grant lines: PostgreSQL's privileges and row security decide,
    for the role each statement runs as."""

    @classmethod
    def setUpClass(cls):
        cls.keys = None
        super().setUpClass()

    def setUp(self):
        uri = self.fresh_db(PG_RLS)
        routes = ("[route /api]\nplugin = data\ndatabase = %s\ntables = notes, probe\npool_size = 1\n"
                  "jwt_secret = %s\nanon_role = web_anon\n" % (uri, SECRET))
        self.srv = Server(server_ini(routes=routes, threads=2))
        self.addCleanup(self.srv.stop)

    def req(self, method, path, obj=None, sub=None, role="writer", headers=None):
        h = {"Content-Type": "application/json"} if obj is not None else {}
        if sub is not None:
            h.update(bearer(token({"role": role, "sub": sub, "exp": int(time.time()) + 300})))
        h.update(headers or {})
        return self.srv.get(path, method=method, body=json.dumps(obj).encode() if obj is not None else None,
                            headers=h)

    def post(self, table, obj, **kw):
        r = self.req("POST", "/api/" + table, obj, headers={"Prefer": "return=representation"}, **kw)
        return r

    def test_claims_and_role_are_visible_to_sql(self):
        r = self.post("notes", {"title": "mine"}, sub="alice")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(jbody(r)[0]["owner"], "alice")
        r = self.post("probe", {}, sub="alice")
        self.assertEqual(r.status, 201, r.body)
        row = jbody(r)[0]
        self.assertEqual(row["who"], "writer")
        self.assertEqual(json.loads(row["claims"]), {"role": "writer", "sub": "alice", "exp": json.loads(
            row["claims"])["exp"]})

    def test_row_security_follows_the_token(self):
        self.assertEqual(self.post("notes", {"title": "a1"}, sub="alice").status, 201)
        self.assertEqual(self.post("notes", {"title": "b1"}, sub="bob").status, 201)
        mine = self.req("GET", "/api/notes?select=title,owner&order=id", sub="alice")
        self.assertEqual(jbody(mine), [{"title": "a1", "owner": "alice"}])
        anon = self.req("GET", "/api/notes?select=title&order=id")
        self.assertEqual(jbody(anon), [{"title": "a1"}, {"title": "b1"}])
        # bob cannot change alice's row: it is not among his rows.
        r = self.req("PATCH", "/api/notes?title=eq.a1", {"title": "x"}, sub="bob",
                     headers={"Prefer": "return=representation"})
        self.assertEqual((r.status, jbody(r)), (200, []))
        # A row for someone else breaks the policy's check: 403 for a role.
        r = self.post("notes", {"title": "forged", "owner": "alice"}, sub="bob")
        self.assertEqual((r.status, jbody(r)["code"]), (403, "42501"), r.body)
        self.assertIsNone(r.header("WWW-Authenticate"))

    def test_missing_privilege_is_401_anonymous_403_for_a_role(self):
        r = self.post("notes", {"title": "anon"})
        self.assertEqual((r.status, jbody(r)["code"]), (401, "42501"), r.body)
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
        r = self.req("GET", "/api/notes", sub="carol", role="reader")
        self.assertEqual((r.status, jbody(r)["code"]), (403, "42501"), r.body)
        self.assertIn("permission denied for table notes", jbody(r)["message"])
        r = self.req("GET", "/api/notes", sub="dave", role="ghost")
        self.assertEqual((r.status, jbody(r)["code"]), (401, "22023"), r.body)

    def test_role_and_claims_do_not_outlive_the_request(self):
        # pool_size = 1: every request uses the same connection.
        self.assertEqual(self.post("probe", {}, sub="alice").status, 201)
        self.assertEqual(self.req("GET", "/api/notes", sub="carol", role="reader").status, 403)
        self.assertEqual(self.post("notes", {"title": "f", "owner": "zed"}, sub="bob").status, 403)
        r = self.post("probe", {})
        self.assertEqual(r.status, 201, r.body)
        row = jbody(r)[0]
        self.assertEqual((row["who"], json.loads(row["claims"])), ("web_anon", {"role": "web_anon"}))
        sessions = self.cluster.psql("SELECT state FROM pg_stat_activity WHERE usename = 'authenticator'")
        self.assertEqual(sessions.split(), ["idle"])

    def test_dry_run_as_a_role(self):
        r = self.req("POST", "/api/notes", {"title": "dry"}, sub="alice",
                     headers={"Prefer": "return=representation, tx=rollback"})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(jbody(r)[0]["owner"], "alice")
        self.assertEqual(jbody(self.req("GET", "/api/notes", sub="alice")), [])


class MysqlJwtTest(JwtCases, GrantCases, unittest.TestCase):
    """The shared cases on MariaDB, where the plugin's grants decide."""

    server = None
    counter = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from mysqld import MariaDb
        cls.server = MariaDb()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.destroy()
        super().tearDownClass()

    def setUp(self):
        type(self).counter += 1
        uri = self.server.create_db("jwt%d_%d" % (os.getpid(), type(self).counter))
        api, strict = self.route_keys()
        routes = ("[route /api]\nplugin = data\ndatabase = %s\nschema = schema.sql\ntables = notes, kinds\n"
                  "cors_origins = https://app.example\n%s\n"
                  "[route /strict]\nplugin = data\ndatabase = %s\nschema = schema.sql\ntables = notes\n"
                  "cors_origins = https://app.example\n%s\n" % (uri, api, uri, strict))
        self.srv = Server(server_ini(routes=routes, threads=2), files={"schema.sql": schema_text("mysql")})
        self.addCleanup(self.srv.stop)


if __name__ == "__main__":
    harness.main()
