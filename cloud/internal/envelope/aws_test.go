package envelope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"healthprep.dev/cloud/internal/envelope"
)

// fakeKMS is a FAKE of AWS KMS, not an emulator: no KMS emulator can run on
// these machines (local-kms is not installable here), so this ~60-line
// httptest server speaks just enough of the KMS JSON 1.1 protocol
// (X-Amz-Target: TrentService.GenerateDataKey / TrentService.Decrypt,
// base64 blobs, __type errors) to prove that AWSKMS makes the right wire
// calls with the key id and encryption context, and maps refusals. The
// "wrapped" key it returns is the plaintext under a fixed XOR with the
// context appended — meaningless cryptographically, enough to check the
// round trip.
type fakeKMS struct {
	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct {
	Target  string
	KeyID   string
	Context map[string]string
	KeySpec string
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		KeyId             string
		KeySpec           string
		EncryptionContext map[string]string
		CiphertextBlob    []byte
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		http.Error(w, "unexpected content type "+ct, http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		http.Error(w, "unsigned request", http.StatusForbidden)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Target: target, KeyID: in.KeyId, Context: in.EncryptionContext, KeySpec: in.KeySpec})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	ctxTag := []byte(in.EncryptionContext["healthprep_org"])
	switch target {
	case "TrentService.GenerateDataKey":
		pt := bytes.Repeat([]byte{7}, 32)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"KeyId": "arn:aws:kms:us-east-1:111122223333:key/" + in.KeyId, "Plaintext": pt,
			"CiphertextBlob": append(xor(pt), ctxTag...),
		})
	case "TrentService.Decrypt":
		if len(in.CiphertextBlob) < 32 || !bytes.Equal(in.CiphertextBlob[32:], ctxTag) {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "InvalidCiphertextException", "message": "invalid"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": in.KeyId, "Plaintext": xor(in.CiphertextBlob[:32])})
	default:
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException"})
	}
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ 0x5a
	}
	return out
}

func TestAWSKMSWireCalls(t *testing.T) {
	t.Parallel()
	fake := &fakeKMS{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "test-secret", ""),
		HTTPClient:  srv.Client(),
	}
	k, err := envelope.NewAWSKMS(context.Background(), envelope.AWSOptions{KeyID: "key-1", Endpoint: srv.URL, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kctx := map[string]string{"healthprep_org": "org-a", "purpose": "org-data-key"}
	pt, wrapped, kek, err := k.GenerateDataKey(ctx, kctx)
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	if len(pt) != 32 || !strings.HasSuffix(kek, "key/key-1") {
		t.Errorf("GenerateDataKey: %d-byte key, kek %q; want 32 bytes and the key's ARN", len(pt), kek)
	}
	got, err := k.Decrypt(ctx, wrapped, kctx)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Decrypt: %v; want the generated key back", err)
	}
	_, err = k.Decrypt(ctx, wrapped, map[string]string{"healthprep_org": "org-b"})
	if !errors.Is(err, envelope.ErrUnwrap) {
		t.Errorf("Decrypt with another org's context: %v; want ErrUnwrap", err)
	}
	want := []fakeCall{
		{Target: "TrentService.GenerateDataKey", KeyID: "key-1", Context: kctx, KeySpec: "AES_256"},
		{Target: "TrentService.Decrypt", KeyID: "key-1", Context: kctx},
		{Target: "TrentService.Decrypt", KeyID: "key-1", Context: map[string]string{"healthprep_org": "org-b"}},
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("wire calls:\n got %+v\nwant %+v", fake.calls, want)
	}
}

func TestAWSKMSNeedsKeyID(t *testing.T) {
	t.Parallel()
	cfg := aws.Config{Region: "us-east-1"}
	if _, err := envelope.NewAWSKMS(context.Background(), envelope.AWSOptions{Config: &cfg}); err == nil {
		t.Error("NewAWSKMS without a key id succeeded; want an error")
	}
}
