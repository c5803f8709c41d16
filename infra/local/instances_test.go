package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocketlead/ingress-webhooks/infra/local/front"
)

// instances builds test instances that record whether one ever handled two requests at
// once, how many were in flight together and how many requests each served.
type instances struct {
	mu         sync.Mutex
	served     []int
	busy       []bool
	overlapped bool
	inFlight   int
	peak       int
	hold       time.Duration
}

func (in *instances) build() (front.Handler, error) {
	in.mu.Lock()
	i := len(in.served)
	in.served, in.busy = append(in.served, 0), append(in.busy, false)
	in.mu.Unlock()
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		in.mu.Lock()
		if in.busy[i] {
			in.overlapped = true
		}
		in.busy[i] = true
		in.inFlight++
		in.peak = max(in.peak, in.inFlight)
		in.mu.Unlock()
		time.Sleep(in.hold)
		in.mu.Lock()
		in.busy[i] = false
		in.inFlight--
		in.served[i]++
		in.mu.Unlock()
		return events.APIGatewayV2HTTPResponse{StatusCode: 201}, nil
	}, nil
}

// TestInstancePoolStartsInstancesAsNeededAndSpreadsRequests: as Lambda, an instance never
// handles two requests at once, a new one starts only when every one is busy (never more
// than the most), and requests spread over all of them.
func TestInstancePoolStartsInstancesAsNeededAndSpreadsRequests(t *testing.T) {
	const most, requests = 3, 60
	in := &instances{hold: 2 * time.Millisecond}
	first, _ := in.build()
	pool := instancePool(first, in.build, most)

	// One at a time: the one instance serves them all.
	for range 5 {
		if resp, err := pool(context.Background(), events.APIGatewayV2HTTPRequest{}); err != nil || resp.StatusCode != 201 {
			t.Fatalf("pool answered %d, %v", resp.StatusCode, err)
		}
	}
	if len(in.served) != 1 {
		t.Fatalf("%d instances for requests one at a time; want 1", len(in.served))
	}

	var wg sync.WaitGroup
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := pool(context.Background(), events.APIGatewayV2HTTPRequest{}); err != nil || resp.StatusCode != 201 {
				t.Errorf("pool answered %d, %v", resp.StatusCode, err)
			}
		}()
	}
	wg.Wait()
	if in.overlapped {
		t.Error("an instance handled two requests at once")
	}
	if len(in.served) != most || in.peak > most {
		t.Errorf("%d instances built, %d requests in flight at once; want %d and at most %d", len(in.served), in.peak, most, most)
	}
	total := 0
	for i, n := range in.served {
		if n == 0 {
			t.Errorf("instance %d served nothing", i)
		}
		total += n
	}
	if total != requests+5 {
		t.Errorf("served %d requests; want %d", total, requests+5)
	}
}

// TestInstancePoolGivesUpWhenTheCallerDoes: at its most instances, a request waiting for a
// busy one ends with its caller's context.
func TestInstancePoolGivesUpWhenTheCallerDoes(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	first := func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		close(started)
		<-release
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	pool := instancePool(first, func() (front.Handler, error) { return nil, errors.New("no second instance") }, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = pool(context.Background(), events.APIGatewayV2HTTPRequest{})
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := pool(ctx, events.APIGatewayV2HTTPRequest{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request waiting for the one busy instance ended with %v; want its context's deadline", err)
	}
	close(release)
	<-done
}

// TestRunnerServesEachFunctionWithItsInstances: with -instances, leads and admin calls are
// answered as without it.
func TestRunnerServesEachFunctionWithItsInstances(t *testing.T) {
	s, _ := startRunnerWith(t, "", io.Discard, func(o *options) { o.instances = 3 })
	for i := range 6 {
		if status, body := postJSON(t, s, fmt.Sprintf(`{"data":{"email":"lead%d@example.com"}}`, i)); status != 201 {
			t.Errorf("lead %d: %d %s", i, status, body)
		}
	}
	api := strings.TrimSuffix(s.URL, "/public/ingress_webhooks/"+s.WebhookID)
	if status, _ := callJSON(t, http.MethodGet, api+"/admin/ingress_webhooks?organizationId="+s.OrganizationID, "", ""); status != 200 {
		t.Errorf("list webhooks: %d; want 200", status)
	}
}
