package config

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

var (
	key32 = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	key16 = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 16)))
)

// good is a complete, valid environment.
func good() map[string]string {
	return map[string]string{
		"HP_BASE_URL":       "https://app.example.org",
		"HP_DATABASE_URL":   "postgres://app:s3cret-db-pass@db.internal:5432/hp",
		"HP_EMAIL_HASH_KEY": key32,
		"HP_WEB_CSRF_KEY":   key32,
		"HP_KEYRING_KEY":    key32,
		"HP_MAIL_FROM":      "HealthPrep <no-reply@example.org>",
		"HP_SMTP_ADDR":      "127.0.0.1:2525",
	}
}

func lookup(m map[string]string) LookupFunc {
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}

func TestLoad(t *testing.T) {
	t.Parallel()
	c, err := Load(context.Background(), lookup(good()), Env{Lookup: lookup(good())})
	if err != nil {
		t.Fatalf("Load(good) = %v", err)
	}
	if c.Role != RoleAPI || c.ListenAddr != "127.0.0.1:8080" || c.MaxRequestBytes != 1<<20 || c.Mail.Transport != MailSMTP {
		t.Errorf("defaults: %+v", c)
	}
	if c.DatabaseURL.Reveal() != good()["HP_DATABASE_URL"] || len(c.KeyringKey) != 32 {
		t.Errorf("secrets not loaded")
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.DatabaseURL)} {
		if strings.Contains(s, "s3cret-db-pass") {
			t.Errorf("formatted config shows the database password: %s", s)
		}
	}
}

// TestLoadRefuses shows the message a person sees for each bad setting: it
// names the variable and never contains the value.
func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  map[string]string // "" deletes
		wantMsg string
	}{
		{"missing database url", map[string]string{"HP_DATABASE_URL": ""}, "HP_DATABASE_URL is missing"},
		{"malformed database url", map[string]string{"HP_DATABASE_URL": "not a dsn s3cret"}, "HP_DATABASE_URL is malformed: must be a postgres:// URL or key=value pairs"},
		{"missing keyring key", map[string]string{"HP_KEYRING_KEY": ""}, "HP_KEYRING_KEY is missing"},
		{"short keyring key", map[string]string{"HP_KEYRING_KEY": key16}, "HP_KEYRING_KEY is malformed: must decode to exactly 32 bytes"},
		{"keyring key not base64", map[string]string{"HP_KEYRING_KEY": "s3cret!!"}, "HP_KEYRING_KEY is malformed: must be standard base64"},
		{"short email hash key", map[string]string{"HP_EMAIL_HASH_KEY": key16}, "HP_EMAIL_HASH_KEY is malformed: must decode to at least 32 bytes"},
		{"missing web CSRF key", map[string]string{"HP_WEB_CSRF_KEY": ""}, "HP_WEB_CSRF_KEY is missing"},
		{"bad previous key", map[string]string{"HP_KEYRING_PREVIOUS_KEYS": key32 + ",s3cret"}, "HP_KEYRING_PREVIOUS_KEYS is malformed: must be standard base64"},
		{"missing base url", map[string]string{"HP_BASE_URL": ""}, "HP_BASE_URL is missing"},
		{"relative base url", map[string]string{"HP_BASE_URL": "app.example.org"}, "HP_BASE_URL is malformed: must be an absolute http(s) URL without a query"},
		{"bad role", map[string]string{"HP_ROLE": "both"}, "HP_ROLE is malformed: must be api or worker"},
		{"bad listen", map[string]string{"HP_LISTEN_ADDR": "8080"}, "HP_LISTEN_ADDR is malformed: must be host:port"},
		{"cert without key", map[string]string{"HP_TLS_CERT_FILE": "/x.pem"}, "HP_TLS_CERT_FILE and HP_TLS_KEY_FILE must be set together"},
		{"bad limit", map[string]string{"HP_MAX_REQUEST_BYTES": "lots"}, "HP_MAX_REQUEST_BYTES is malformed: must be a whole number from 1024 to 67108864"},
		{"bad transport", map[string]string{"HP_MAIL_TRANSPORT": "pigeon"}, "HP_MAIL_TRANSPORT is malformed: must be ses or smtp"},
		{"ses without region", map[string]string{"HP_MAIL_TRANSPORT": "ses"}, "HP_SES_REGION is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := good()
			for k, v := range tt.change {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, err := Load(context.Background(), lookup(env), Env{Lookup: lookup(env)})
			if err == nil {
				t.Fatalf("Load accepted it; want %q", tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q; want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q repeats a secret value", err)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		t.Parallel()
		_, err := Load(context.Background(), lookup(nil), Env{Lookup: lookup(nil)})
		for _, name := range []string{"HP_BASE_URL", "HP_DATABASE_URL", "HP_EMAIL_HASH_KEY", "HP_KEYRING_KEY", "HP_MAIL_FROM", "HP_SMTP_ADDR"} {
			if err == nil || !strings.Contains(err.Error(), name+" is missing") {
				t.Errorf("empty environment: error %v; want it to name %s", err, name)
			}
		}
	})
}

// fakeSecretsManager is a FAKE Secrets Manager: no emulator of it installs
// or runs here, so this ~30-line httptest server speaks just enough of the
// real wire protocol (awsJson1_1, X-Amz-Target: secretsmanager.GetSecretValue)
// for the real aws-sdk-go-v2 client to talk to it.
func fakeSecretsManager(t *testing.T, secrets map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
			http.Error(w, `{"__type":"InvalidRequestException","message":"bad request"}`, http.StatusBadRequest)
			return
		}
		var in struct{ SecretId string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"__type":"InvalidRequestException","message":"bad json"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + in.SecretId, "Name": in.SecretId,
			"SecretString": v, "VersionId": "v1", "CreatedDate": 1.7e9,
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAWSProvider(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{}
	for k, v := range good() {
		if strings.HasPrefix(k, "HP_DATABASE") || strings.HasSuffix(k, "_KEY") {
			secrets["healthprep/test/"+k] = v
		}
	}
	url := fakeSecretsManager(t, secrets)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")}
	p, err := NewAWS(context.Background(), AWSOptions{Prefix: "healthprep/test/", Endpoint: url, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	// Non-secret settings from the environment, secrets from the provider.
	env := good()
	for _, k := range []string{"HP_DATABASE_URL", "HP_EMAIL_HASH_KEY", "HP_KEYRING_KEY"} {
		delete(env, k)
	}
	c, err := Load(context.Background(), lookup(env), p)
	if err != nil {
		t.Fatalf("Load with Secrets Manager: %v", err)
	}
	if c.DatabaseURL.Reveal() != good()["HP_DATABASE_URL"] {
		t.Errorf("database URL not read from Secrets Manager")
	}
	delete(secrets, "healthprep/test/HP_KEYRING_KEY")
	_, err = Load(context.Background(), lookup(env), p)
	if err == nil || !strings.Contains(err.Error(), "HP_KEYRING_KEY is missing") {
		t.Errorf("missing secret in Secrets Manager: error %v; want HP_KEYRING_KEY is missing", err)
	}
}
