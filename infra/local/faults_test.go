package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// postJSON sends body to the runner's webhook and returns the status and the answer.
func postJSON(t *testing.T, s seed, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-rocketlead-ingress-token", s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunnerSurvivesKeysShapedLikePlaceholders(t *testing.T) {
	s := startRunner(t)
	if st, b := postJSON(t, s, `{"data":{"email":"a@b.co"}}`); st != http.StatusCreated {
		t.Fatalf("locking one key = %d %s", st, b)
	}
	for _, body := range []string{`{"data":{"#0":"x"}}`, `{"data":{"x.#0":"y","#1":"z"}}`, `{"data":{"#k0":"x","#ks":"y"}}`} {
		if st, b := postJSON(t, s, body); st != http.StatusCreated {
			t.Errorf("POST %s = %d %s; want 201", body, st, b)
		}
	}
	if st, b := postJSON(t, s, `{"data":{"email":"c@d.co"}}`); st != http.StatusCreated {
		t.Errorf("the runner after those = %d %s; want it alive and answering 201", st, b)
	}
}

func TestRunnerClientHalfClosingAfterItsBodyStillGetsItsCommittedEntry(t *testing.T) {
	// The client sends a 200 KB lead and shuts its writing side 5–150 ms later: the write has
	// begun and is not cancelled (API Gateway does not cancel it either), so the answer is
	// the 201 of the stored entry, never a 5xx for a committed write.
	s := startRunner(t)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"data":{"note":"` + strings.Repeat("n", 200_000) + `"}}`
	for _, delay := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nx-rocketlead-ingress-token: %s\r\nContent-Length: %d\r\n\r\n%s",
				u.RequestURI(), u.Host, s.Token, len(body), body)
			time.Sleep(delay)
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("status %d %s; want 201", resp.StatusCode, b)
			}
		})
	}
}
