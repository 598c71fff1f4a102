package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind names a failure the sandbox can simulate.
type FaultKind string

// The faults.
const (
	// FaultRateLimit answers 429 Too Many Requests with Retry-After.
	FaultRateLimit FaultKind = "429"
	// FaultServerError answers 500 with an OperationOutcome.
	FaultServerError FaultKind = "500"
	// FaultSlow waits Delay before answering normally.
	FaultSlow FaultKind = "slow"
	// FaultTruncated sends the first half of the real body as a complete
	// HTTP response: JSON that stops mid-value.
	FaultTruncated FaultKind = "truncated"
	// FaultMalformed sends a 200 whose body is not JSON.
	FaultMalformed FaultKind = "malformed"
	// FaultExpiredToken answers 401 invalid_token as if the bearer token had
	// expired, whatever its real expiry.
	FaultExpiredToken FaultKind = "expired_token"
)

// Fault is one injected failure. It applies to FHIR requests whose path,
// relative to the FHIR base (for example "/Patient" or "/Observation"),
// starts with PathPrefix (empty: every FHIR request).
type Fault struct {
	Kind       FaultKind     `json:"kind"`
	PathPrefix string        `json:"path_prefix,omitempty"`
	Times      int           `json:"times,omitempty"` // how many requests it hits; 0 = until cleared
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Delay      time.Duration `json:"delay,omitempty"`
}

type faults struct {
	mu      sync.Mutex
	list    []*Fault
	latency time.Duration
	hits    map[FaultKind]int
}

// InjectFault adds a fault; faults are tried in the order they were added and
// the first that matches a request is used (and counted against its Times).
func (s *Sandbox) InjectFault(f Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list = append(s.faults.list, &f)
}

// ClearFaults removes every injected fault and the latency.
func (s *Sandbox) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.list, s.faults.latency = nil, 0
}

// SetLatency delays every FHIR response by d (0 turns it off).
func (s *Sandbox) SetLatency(d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.latency = d
}

// FaultHits reports how many requests each kind of fault has hit.
func (s *Sandbox) FaultHits(k FaultKind) int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.hits[k]
}

// pick returns the fault for a request (the request's own, from the header or
// query parameter, wins over injected ones) and the latency to add.
func (s *Sandbox) pickFault(r *http.Request, fhirPath string) (*Fault, time.Duration, error) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	spec := r.Header.Get("X-Sandbox-Fault")
	if spec == "" {
		spec = r.URL.Query().Get("_fault")
	}
	var f *Fault
	if spec != "" {
		pf, err := parseFaultSpec(spec)
		if err != nil {
			return nil, 0, err
		}
		f = &pf
	} else {
		for i, c := range s.faults.list {
			if !strings.HasPrefix(fhirPath, c.PathPrefix) {
				continue
			}
			cp := *c
			f = &cp
			if c.Times > 0 {
				c.Times--
				if c.Times == 0 {
					s.faults.list = append(s.faults.list[:i:i], s.faults.list[i+1:]...)
				}
			}
			break
		}
	}
	if f != nil {
		if s.faults.hits == nil {
			s.faults.hits = map[FaultKind]int{}
		}
		s.faults.hits[f.Kind]++
	}
	return f, s.faults.latency, nil
}

// parseFaultSpec reads "429", "429;retry-after=2", "slow;delay=250ms",
// "500", "truncated", "malformed" or "expired_token".
func parseFaultSpec(spec string) (Fault, error) {
	parts := strings.Split(spec, ";")
	f := Fault{Kind: FaultKind(strings.TrimSpace(parts[0])), Times: 1}
	switch f.Kind {
	case FaultRateLimit, FaultServerError, FaultSlow, FaultTruncated, FaultMalformed, FaultExpiredToken:
	default:
		return f, fmt.Errorf("unknown fault %q", parts[0])
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "retry-after":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return f, fmt.Errorf("bad retry-after %q", v)
			}
			f.RetryAfter = time.Duration(n) * time.Second
		case "delay":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return f, fmt.Errorf("bad delay %q", v)
			}
			f.Delay = d
		default:
			return f, fmt.Errorf("unknown fault option %q", k)
		}
	}
	return f, nil
}

// handleFaults serves the control API: POST adds a fault (JSON Fault, with
// durations as Go duration strings in "retry_after"/"delay"), DELETE clears.
func (s *Sandbox) handleFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodDelete:
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		var in struct {
			Kind       FaultKind `json:"kind"`
			PathPrefix string    `json:"path_prefix"`
			Times      int       `json:"times"`
			RetryAfter string    `json:"retry_after"`
			Delay      string    `json:"delay"`
			Latency    string    `json:"latency"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			http.Error(w, "body must be a JSON fault", http.StatusBadRequest)
			return
		}
		if in.Latency != "" {
			d, err := time.ParseDuration(in.Latency)
			if err != nil {
				http.Error(w, "bad latency", http.StatusBadRequest)
				return
			}
			s.SetLatency(d)
		}
		if in.Kind == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		spec := string(in.Kind)
		if in.RetryAfter != "" {
			spec += ";retry-after=" + in.RetryAfter
		}
		if in.Delay != "" {
			spec += ";delay=" + in.Delay
		}
		f, err := parseFaultSpec(spec)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.Times, f.PathPrefix = in.Times, in.PathPrefix
		s.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
