// openloop: a constant-arrival-rate load generator for V2 inference over REST or gRPC.
//
// Request i is due at start + i/rate whatever the answers to the previous ones; its latency is
// measured from that due time, so a server that falls behind shows its queueing instead of
// slowing the generator down (coordinated omission). The lag between due time and actual send
// is reported too: it says whether the generator kept its schedule.
//
// gRPC sends a pre-serialised ModelInferRequest through a pass-through codec, so no generated
// stubs are needed and the bytes on the wire are those the Python side built.
//
// Usage: openloop -mode rest|grpc -target URL|HOST:PORT -body FILE -rate R -seconds S
// Prints one JSON object.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const modelInfer = "/inference.GRPCInferenceService/ModelInfer"

// maxInFlight bounds the goroutines if the server stalls; a request waiting for a slot still
// has its latency counted from its due time.
const maxInFlight = 4096

type sender func(ctx context.Context) error

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = data
	return nil
}
func (rawCodec) Name() string { return "proto" }

func restSender(url string, body []byte, conns int) sender {
	client := &http.Client{Transport: &http.Transport{
		MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, DisableCompression: true,
	}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

func grpcSender(target string, body []byte, conns int) (sender, error) {
	channels := make([]*grpc.ClientConn, conns)
	for i := range channels {
		conn, err := grpc.NewClient(target,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			return nil, err
		}
		conn.Connect()
		channels[i] = conn
	}
	var next atomic.Uint64
	return func(ctx context.Context) error {
		conn := channels[next.Add(1)%uint64(len(channels))]
		request, reply := body, []byte(nil)
		return conn.Invoke(ctx, modelInfer, &request, &reply)
	}, nil
}

type summary struct {
	AskedRPS    float64 `json:"asked_rps"`
	SentRPS     float64 `json:"sent_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int     `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	P999        float64 `json:"p999_ms"`
	Max         float64 `json:"max_ms"`
	LagP99      float64 `json:"lag_p99_ms"`
	LagMax      float64 `json:"lag_max_ms"`
}

func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// run fires n requests at fixed intervals and returns each one's latency and send lag.
func run(send sender, rate float64, n int) ([]time.Duration, []time.Duration, int64, time.Duration) {
	latencies, lags := make([]time.Duration, n), make([]time.Duration, n)
	var errors atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		slots <- struct{}{}
		lags[i] = time.Since(due)
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := send(ctx); err != nil {
				errors.Add(1)
				latencies[i] = -1
			} else {
				latencies[i] = time.Since(due)
			}
			<-slots
		}(i, due)
	}
	sent := time.Since(start)
	wg.Wait()
	return latencies, lags, errors.Load(), sent
}

func summarise(rate float64, latencies, lags []time.Duration, errors int64, sent time.Duration, total time.Duration) summary {
	ok := make([]time.Duration, 0, len(latencies))
	for _, l := range latencies {
		if l >= 0 {
			ok = append(ok, l)
		}
	}
	sort.Slice(ok, func(a, b int) bool { return ok[a] < ok[b] })
	sort.Slice(lags, func(a, b int) bool { return lags[a] < lags[b] })
	s := summary{AskedRPS: rate, Requests: len(latencies), Errors: errors, Seconds: total.Seconds()}
	// n sends span n-1 intervals: the first leaves at 0, the last closes the schedule.
	if sent > 0 {
		s.SentRPS = float64(len(lags)-1) / sent.Seconds()
	}
	s.AchievedRPS = float64(len(ok)) / total.Seconds()
	s.P50, s.P90, s.P99 = quantile(ok, 0.5), quantile(ok, 0.9), quantile(ok, 0.99)
	s.P999, s.Max = quantile(ok, 0.999), quantile(ok, 1)
	s.LagP99, s.LagMax = quantile(lags, 0.99), quantile(lags, 1)
	return s
}

func main() {
	mode := flag.String("mode", "rest", "rest or grpc")
	target := flag.String("target", "", "REST: the infer URL; gRPC: host:port")
	bodyPath := flag.String("body", "", "REST: JSON body; gRPC: serialised ModelInferRequest")
	rate := flag.Float64("rate", 100, "requests per second")
	seconds := flag.Float64("seconds", 5, "duration of the schedule")
	conns := flag.Int("conns", 64, "REST: connection pool size; gRPC: channels")
	flag.Parse()
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	send := restSender(*target, body, *conns)
	if *mode == "grpc" {
		if send, err = grpcSender(*target, body, *conns); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	n := int(*rate * *seconds)
	if n < 2 {
		n = 2
	}
	begin := time.Now()
	latencies, lags, errors, sent := run(send, *rate, n)
	out, _ := json.Marshal(summarise(*rate, latencies, lags, errors, sent, time.Since(begin)))
	fmt.Println(string(out))
}
