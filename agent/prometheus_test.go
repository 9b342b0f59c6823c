package agent_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// promResponse is the envelope of Prometheus's HTTP API answers.
type promResponse struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

func promGet(t *testing.T, base, path string, q url.Values) json.RawMessage {
	t.Helper()
	u := base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := client.Get(u)
	if err != nil {
		return nil // not up yet
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil // listening, but still starting ("Service Unavailable")
	}
	var r promResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("GET %s: %v %s", u, err, r.Error)
	}
	return r.Data
}

// TestPrometheus: a real Prometheus server scrapes the agent on loopback
// with the example alert rules loaded. A PromQL query through its HTTP API
// returns the UNSIGNED program another process loaded, and the
// BPFProgramNotVerified alert for it goes from pending to firing after the
// rule's minute; the OK program never alerts.
func TestPrometheus(t *testing.T) {
	testutil.RequireTool(t, "prometheus")
	if testing.Short() {
		t.Skip("waits for the alert's 1m for clause")
	}
	a := startAgent(t, "--trust", trustDir(t))
	unsigned := startLoader(t, "unsigned")
	signed := startLoader(t, "signed")
	id := strconv.FormatUint(uint64(unsigned.progs[0].ID), 10)

	dir := t.TempDir()
	rules, err := filepath.Abs("deploy/prometheus-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: bpf2go-signed-agent
    static_configs:
      - targets: [%q]
`, rules, a.addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	base := "http://" + web
	var log strings.Builder
	cmd := exec.Command("prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})

	// The query finds the UNSIGNED program.
	start := time.Now()
	query := url.Values{"query": {`bpf2go_signed_program_info{verdict="UNSIGNED",id="` + id + `"}`}}
	var found time.Duration
	for found == 0 {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("query %s: no result", query.Get("query"))
		}
		time.Sleep(200 * time.Millisecond)
		data := promGet(t, base, "/api/v1/query", query)
		if data == nil {
			continue
		}
		var res struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		}
		json.Unmarshal(data, &res)
		if len(res.Result) == 1 {
			m := res.Result[0].Metric
			if m["name"] != "socket_count" || m["job"] != "bpf2go-signed-agent" || m["instance"] != a.addr {
				t.Fatalf("query result %v", m)
			}
			found = time.Since(start)
		}
	}
	t.Logf("UNSIGNED program %s returned by PromQL %v after Prometheus started", id, found.Round(time.Millisecond))

	// The alert fires for it, after pending for a minute.
	var pending, firing time.Duration
	for firing == 0 {
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("alert not firing after %v (pending after %v)", time.Since(start), pending)
		}
		time.Sleep(time.Second)
		data := promGet(t, base, "/api/v1/alerts", nil)
		var res struct {
			Alerts []struct {
				Labels   map[string]string `json:"labels"`
				State    string            `json:"state"`
				ActiveAt time.Time         `json:"activeAt"`
			} `json:"alerts"`
		}
		json.Unmarshal(data, &res)
		for _, al := range res.Alerts {
			if al.Labels["alertname"] != "BPFProgramNotVerified" {
				continue
			}
			if al.Labels["id"] == strconv.FormatUint(uint64(signed.progs[0].ID), 10) {
				t.Fatalf("alert for the OK program: %v", al.Labels)
			}
			if al.Labels["id"] != id {
				continue // another process's program
			}
			switch al.State {
			case "pending":
				if pending == 0 {
					pending = time.Since(start)
				}
			case "firing":
				firing = time.Since(start)
				if al.Labels["verdict"] != "UNSIGNED" || al.Labels["severity"] != "critical" {
					t.Errorf("alert labels %v", al.Labels)
				}
				if active := time.Since(al.ActiveAt); active < 59*time.Second {
					t.Errorf("alert firing %v after it became active, want the rule's minute", active)
				}
			}
		}
	}
	if pending == 0 {
		t.Errorf("alert firing after %v, never seen pending", firing)
	}
	t.Logf("alert BPFProgramNotVerified for program %s: pending after %v, firing after %v", id, pending.Round(time.Second), firing.Round(time.Second))
}
