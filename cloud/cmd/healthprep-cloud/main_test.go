package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/pquerna/otp/totp"
	"google.golang.org/protobuf/reflect/protoreflect"

	"healthprep.dev/cloud/internal/pgtest"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	"healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func h2c() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

// TestBinary runs the binary's commands in-process against a real
// Postgres: migrate as the owner, bootstrap the root admin, serve, answer
// health, reflection and the API over Connect, gRPC and gRPC-Web, and shut
// down gracefully: an open SyncService Watch stream (a workstation waiting
// for changes) ends cleanly as soon as shutdown begins, instead of holding
// the process for the whole grace period.
func TestBinary(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	env := map[string]string{
		"HP_MIGRATE_DATABASE_URL": db.OwnerDSN,
		"HP_DATABASE_URL":         db.AppDSN,
		"HP_EMAIL_HASH_KEY":       key,
		"HP_WEB_CSRF_KEY":         key,
		"HP_KEYRING_KEY":          key,
		"HP_BASE_URL":             "http://127.0.0.1/web",
		"HP_MAIL_FROM":            "HealthPrep <no-reply@hp.test>",
		"HP_SMTP_ADDR":            "127.0.0.1:25",
		"HP_LISTEN_ADDR":          "127.0.0.1:0",
	}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"migrate"}, lookup, nil, nil, &out, &errb, nil); code != 0 {
		t.Fatalf("migrate exited %d: %s", code, errb.String())
	}
	pw := strings.NewReader("correct horse battery staple 42\n")
	if code := run(context.Background(), []string{"bootstrap-root", "root@hp.test"}, lookup, nil, pw, &out, &errb, nil); code != 0 {
		t.Fatalf("bootstrap-root exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "root admin created") {
		t.Errorf("bootstrap-root printed %q", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	signingKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signingKey)
	if err != nil {
		t.Fatal(err)
	}
	environ := []string{"P_KEY_TEST=" + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}
	go func() { done <- run(ctx, []string{"serve", "-role", "api"}, lookup, environ, nil, &out, &errb, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d before listening: %s", code, errb.String())
	}
	base := "http://" + addr
	hc := h2c()

	hres, err := grpchealth.NewClient(hc, base, connect.WithGRPC()).Check(ctx, &grpchealth.CheckRequest{})
	if err != nil || hres.Status != grpchealth.StatusServing {
		t.Errorf("health = %v, %v; want SERVING", hres, err)
	}
	stream := grpcreflect.NewClient(hc, base).NewStream(ctx)
	names, err := stream.ListServices()
	stream.Close()
	if err != nil || !containsName(names, healthprepv1connect.OrgServiceName) {
		t.Errorf("reflection services = %v, %v; want %s among them", names, err, healthprepv1connect.OrgServiceName)
	}
	for _, proto := range []struct {
		name string
		opt  []connect.ClientOption
	}{{"connect", nil}, {"grpc", []connect.ClientOption{connect.WithGRPC()}}, {"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}}} {
		auth := healthprepv1connect.NewAuthServiceClient(hc, base, proto.opt...)
		_, err := auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: "root@hp.test", Password: "wrong password entirely"}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: SignIn with a wrong password: %v; want Unauthenticated", proto.name, err)
		}
		res, err := auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: "root@hp.test", Password: "correct horse battery staple 42"}))
		if err != nil || !res.Msg.GetTotpEnrolmentRequired() {
			t.Errorf("%s: root SignIn = %v, %v; want a session that must enrol TOTP", proto.name, res, err)
		}
	}

	// The web pages are mounted on the base URL's path, beside the API.
	resp, err := hc.Get(base + "/web/signin")
	if err != nil {
		t.Fatalf("GET /web/signin: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<form") {
		t.Errorf("GET /web/signin = %d; want 200 with a sign-in form", resp.StatusCode)
	}

	// Public endpoints at the origin: JWKS with the configured production
	// key, the page for Epic reviewers, and a plain health check.
	for _, c := range []struct{ path, want string }{
		{"/.well-known/jwks.json", `"kty":"RSA"`},
		{"/nonprod/.well-known/jwks.json", `"keys":[]`},
		{"/epic/documentation", "HealthPrep"},
		{"/health", `"status":"ok"`},
		{"/.well-known/smart-configuration", `"healthprep_role":"client"`},
	} {
		resp, err := hc.Get(base + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s = %d %.200s; want 200 containing %s", c.path, resp.StatusCode, body, c.want)
		}
	}

	watch := openWatch(ctx, t, hc, base)
	defer watch.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d after shutdown: %s", code, errb.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("serve still running 25 s after shutdown began with a Watch stream open; want it stopped at once")
	}
	for watch.Receive() {
	}
	if err := watch.Err(); err != nil {
		t.Errorf("Watch ended with %v; want a clean end of stream at shutdown", err)
	}
}

// openWatch signs the root admin in (enrolling TOTP, so the session has
// full scope) and opens a SyncService Watch stream that has sent its first
// message.
func openWatch(ctx context.Context, t *testing.T, hc *http.Client, base string) *connect.ServerStreamForClient[v1.WatchResponse] {
	t.Helper()
	auth := healthprepv1connect.NewAuthServiceClient(hc, base)
	res, err := auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: "root@hp.test", Password: "correct horse battery staple 42"}))
	if err != nil {
		t.Fatalf("root SignIn: %v", err)
	}
	tok := res.Msg.GetSessionToken()
	en, err := auth.StartTotpEnrolment(ctx, bearer(tok, &v1.StartTotpEnrolmentRequest{}))
	if err != nil {
		t.Fatalf("StartTotpEnrolment: %v", err)
	}
	code, err := totp.GenerateCode(en.Msg.GetSecret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.ConfirmTotpEnrolment(ctx, bearer(tok, &v1.ConfirmTotpEnrolmentRequest{TotpCode: code})); err != nil {
		t.Fatalf("ConfirmTotpEnrolment: %v", err)
	}
	watch, err := healthprepv1connect.NewSyncServiceClient(hc, base).Watch(context.Background(), bearer(tok, &v1.WatchRequest{}))
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if !watch.Receive() {
		t.Fatalf("Watch sent nothing: %v", watch.Err())
	}
	return watch
}

func bearer[T any](token string, msg *T) *connect.Request[T] {
	r := connect.NewRequest(msg)
	r.Header().Set("Authorization", "Bearer "+token)
	return r
}

func containsName(xs []protoreflect.FullName, s string) bool {
	for _, x := range xs {
		if string(x) == s {
			return true
		}
	}
	return false
}

// TestRefusesBadConfig shows the message a person sees when a secret is
// missing: it names the variable, and the process does not start.
func TestRefusesBadConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HP_BASE_URL": "https://hp.test", "HP_DATABASE_URL": "postgres://app:s3cret@db/hp"}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve"}, func(n string) (string, bool) { v, ok := env[n]; return v, ok }, nil, nil, &out, &errb, nil)
	if code == 0 {
		t.Fatal("serve started without its secrets")
	}
	for _, want := range []string{"HP_KEYRING_KEY is missing", "HP_EMAIL_HASH_KEY is missing"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q; want it to contain %q", errb.String(), want)
		}
	}
	if strings.Contains(errb.String(), "s3cret") {
		t.Errorf("stderr %q shows a secret", errb.String())
	}
}
