package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/ordersettle/ordersettle/gen/client"
)

// rawResponse is a raw answer: status, headers and body.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// send sends req through the harness's validating doer, so that the answer
// is still checked against the spec, and returns it with its headers.
func (h *harness) send(req *http.Request) rawResponse {
	h.t.Helper()
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// newRequest builds a request to the harness's server.
func (h *harness) newRequest(method, path string, body io.Reader, header map[string]string) *http.Request {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// chunked returns a request body that net/http cannot size in advance, so
// that it is sent with chunked transfer encoding.
func chunked(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }

// getUnvalidated fetches url with a plain client: for /docs, /metrics and
// /openapi.yaml, which are not operations of the spec. Redirects are not
// followed.
func getUnvalidated(t *testing.T, url string) rawResponse {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// jsonHeader is the header of a JSON request body. Read only.
var jsonHeader = map[string]string{"Content-Type": "application/json"}

// forTest returns a copy of h that reports to t, so that parallel subtests
// can share one server without failing their parent from their goroutines.
func (h *harness) forTest(t *testing.T) *harness {
	t.Helper()
	doer := *h.http
	doer.t = t
	client, err := client.NewClientWithResponses(h.url, client.WithHTTPClient(&doer))
	if err != nil {
		t.Fatal(err)
	}
	c := *h
	c.t, c.http, c.client = t, &doer, client
	return &c
}
