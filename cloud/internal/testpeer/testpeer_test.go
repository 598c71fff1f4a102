package testpeer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/smtp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// assertStopped stops p and checks that neither its PID nor any process of
// its group is left.
func assertStopped(t *testing.T, p *Process) {
	t.Helper()
	pid := p.PID()
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("process %d: Done not closed after Stop", pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) after Stop = %v, want ESRCH (process gone)", pid, err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(-%d, 0) after Stop = %v, want ESRCH (process group gone)", pid, err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}
}

func TestMailDevCapturesAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMailDev(t, MailDevConfig{})

	msg := "From: clinic@example.test\r\nTo: nurse@example.test\r\nSubject: smoke\r\n\r\nhello from the smoke test\r\n"
	if err := smtp.SendMail(m.SMTPAddr, nil, "clinic@example.test", []string{"nurse@example.test"}, []byte(msg)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	got, err := m.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatalf("WaitMessages: %v", err)
	}
	if len(got) != 1 || got[0].Subject != "smoke" || len(got[0].To) != 1 || got[0].To[0].Address != "nurse@example.test" ||
		!strings.Contains(got[0].Text, "hello from the smoke test") {
		t.Errorf("captured %+v, want one message to nurse@example.test with subject smoke", got)
	}
	assertStopped(t, m.Process)
}

func TestSESAnswersAndStops(t *testing.T) {
	t.Parallel()
	s := NewSES(t)
	got, err := s.Messages(context.Background())
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("fresh server holds %d messages, want 0", len(got))
	}
	assertStopped(t, s.Process)
}

func TestMissingPeerNamesTheMakeTarget(t *testing.T) {
	// Not parallel: it points HEALTHPREP_ROOT at an empty directory.
	t.Setenv("HEALTHPREP_ROOT", t.TempDir())
	_, err := StartMailDev(context.Background(), MailDevConfig{Dir: t.TempDir()})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("StartMailDev error = %v, want one wrapping ErrNotInstalled", err)
	}
	want := "starting maildev: node_modules/maildev/dist/bin/maildev.js missing: test peer not installed (run: make deps)"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err.Error(), want)
	}
}

func TestStripeMockAnswersAndStops(t *testing.T) {
	t.Parallel()
	s := NewStripeMock(t)
	for _, base := range []string{s.URL, s.HTTPSURL} {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			// stripe-mock's certificate is self-signed and throwaway.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}}
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/customers/cus_123", nil)
		req.Header.Set("Authorization", "Bearer "+StripeMockAPIKey)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", base, err)
		}
		var got struct {
			Object string `json:"object"`
		}
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || got.Object != "customer" {
			t.Errorf("GET %s/v1/customers/cus_123: status %d object %q err %v, want 200 customer", base, res.StatusCode, got.Object, err)
		}
	}
	assertStopped(t, s.Process)
}
