package epic

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestKeysFromEnviron(t *testing.T) {
	t.Parallel()
	testKeys(t) // generate the PEMs
	escaped := strings.ReplaceAll(keyEC, "\n", `\n`)
	ks, err := KeysFromEnviron([]string{
		"PATH=/usr/bin", "P_KEY_2026B=" + keyRSA2, "P_KEY_2026A=" + keyRSA, "NP_KEY_1=" + escaped, "NP_KEYS=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Production) != 2 || ks.Production[0].Name != "P_KEY_2026A" || ks.Production[1].Name != "P_KEY_2026B" {
		t.Fatalf("production keys %+v, want P_KEY_2026A then P_KEY_2026B", ks.Production)
	}
	if len(ks.NonProduction) != 1 || ks.NonProduction[0].Alg != "ES384" || ks.NonProduction[0].Env != NonProduction {
		t.Fatalf("non-production keys %+v, want one ES384 key", ks.NonProduction)
	}
	if k, ok := ks.Find("P_KEY_2026A"); !ok || k.Alg != "RS384" {
		t.Errorf("Find(P_KEY_2026A) = %+v, %t", k, ok)
	}

	for _, tc := range []struct{ env, want string }{
		{"P_KEY_BAD=not a pem", "reading key P_KEY_BAD: not PEM"},
		{"NP_KEY_PUB=-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", `reading key NP_KEY_PUB: PEM block "PUBLIC KEY" is not a private key`},
		{"NP_KEY_P256=" + keyPEM(t, "ec256"), "reading key NP_KEY_P256: EC keys must be on P-384 (ES384)"},
		{"P_KEY_JUNK=-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "reading key P_KEY_JUNK: malformed private key"},
	} {
		_, err := KeysFromEnviron([]string{tc.env})
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestJWKSHandler(t *testing.T) {
	t.Parallel()
	a, b, c := testKeys(t)
	a.Env, b.Env = Production, Production
	h, err := JWKSHandler(Keys{Production: []Key{a, b}, NonProduction: []Key{c}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		path string
		want []Key
	}{
		{"/.well-known/jwks.json", []Key{a, b}},
		{"/nonprod/.well-known/jwks.json", []Key{c}},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Header.Get("Cache-Control") != "public, max-age=900" || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s headers: %v", tc.path, res.Header)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != len(tc.want) {
			t.Fatalf("%s: %d keys, want %d", tc.path, len(set.Keys), len(tc.want))
		}
		for i, k := range set.Keys {
			tp, _ := Thumbprint(k.Key)
			if !k.IsPublic() || k.KeyID != tc.want[i].KID || tp != k.KeyID || k.Algorithm != tc.want[i].Alg || k.Use != "sig" {
				t.Errorf("%s key %d: kid %q (thumbprint %q) alg %q public %t, want kid %q alg %q", tc.path, i, k.KeyID, tp, k.Algorithm, k.IsPublic(), tc.want[i].KID, tc.want[i].Alg)
			}
		}
		if strings.Contains(string(body), `"d"`) || strings.Contains(string(body), `"p"`) {
			t.Errorf("%s publishes private key material", tc.path)
		}
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res2.Body.Close()
		if res2.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", tc.path, res2.StatusCode)
		}
	}
	res, _ := http.Get(srv.URL + "/jwks.json")
	if res.StatusCode != 404 {
		t.Errorf("other path: %d, want 404", res.StatusCode)
	}
	res.Body.Close()
}
