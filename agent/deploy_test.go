package agent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

// acceptsFlags runs the agent with args and -h: flags are parsed in order,
// so exit 0 means every one of args is an option the agent knows.
func acceptsFlags(t *testing.T, args []string) {
	t.Helper()
	bin, err := agentBinary()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, append(slices.Clone(args), "-h")...).CombinedOutput(); err != nil {
		t.Errorf("agent refuses %v: %v\n%s", args, err, out)
	}
}

// TestPrometheusRules: the example rules pass promtool's check and their
// unit tests (an UNSIGNED and a BADSIG program alert after a minute, a
// short-lived one and an OK one do not).
func TestPrometheusRules(t *testing.T) {
	testutil.RequireTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "prometheus-rules.yaml"},
		{"test", "rules", "prometheus-rules.test.yaml"},
	} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = "deploy"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestSystemdUnit: systemd-analyze verify accepts the unit (with ExecStart
// pointing at a built agent), and the agent accepts its options.
func TestSystemdUnit(t *testing.T) {
	testutil.RequireTool(t, "systemd-analyze")
	bin, err := agentBinary()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("deploy/bpf2go-signed-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	var execStart []string
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(v)
		}
	}
	if len(execStart) < 2 || filepath.Base(execStart[0]) != "bpf2go-signed-agent" {
		t.Fatalf("ExecStart %v does not run bpf2go-signed-agent", execStart)
	}
	acceptsFlags(t, execStart[1:])
	unit := filepath.Join(t.TempDir(), "bpf2go-signed-agent.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(raw), execStart[0], bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"AmbientCapabilities=CAP_SYS_ADMIN\n", "CapabilityBoundingSet=CAP_SYS_ADMIN\n", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

// TestDaemonSet: the manifest decodes strictly into the Kubernetes API
// types (an unknown or misspelt field fails), and says what the agent
// needs: CAP_SYS_ADMIN only, not privileged, no hostPID, the trust
// directory from a ConfigMap at the --trust path, /sys/fs/bpf mounted,
// probes on /healthz, and options the agent accepts.
func TestDaemonSet(t *testing.T) {
	raw, err := os.ReadFile("deploy/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds *appsv1.DaemonSet
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Namespace":
			var ns corev1.Namespace
			if err := yaml.UnmarshalStrict([]byte(doc), &ns); err != nil {
				t.Fatalf("Namespace: %v", err)
			}
		case "DaemonSet":
			ds = new(appsv1.DaemonSet)
			if err := yaml.UnmarshalStrict([]byte(doc), ds); err != nil {
				t.Fatalf("DaemonSet: %v", err)
			}
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	pod := ds.Spec.Template.Spec
	if pod.HostPID || pod.HostNetwork {
		t.Error("hostPID or hostNetwork set: the agent needs neither")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil || (sc.Privileged != nil && *sc.Privileged) ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"SYS_ADMIN"}) || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security context %+v: want capabilities ALL dropped, SYS_ADMIN added, not privileged", sc)
	}
	acceptsFlags(t, c.Args)
	var trustPath, listen string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--trust="); ok {
			trustPath = v
		}
		if v, ok := strings.CutPrefix(a, "--listen="); ok {
			listen = v
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	var trustFromConfigMap, bpffs bool
	for _, v := range pod.Volumes {
		m, ok := mounts[v.Name]
		if !ok {
			t.Errorf("volume %s not mounted", v.Name)
			continue
		}
		switch {
		case v.ConfigMap != nil:
			trustFromConfigMap = m.MountPath == trustPath && trustPath != ""
		case v.HostPath != nil && v.HostPath.Path == "/sys/fs/bpf":
			bpffs = m.MountPath == "/sys/fs/bpf" && m.ReadOnly
		}
	}
	if !trustFromConfigMap {
		t.Errorf("--trust %q is not a ConfigMap volume's mount", trustPath)
	}
	if !bpffs {
		t.Error("/sys/fs/bpf not mounted read-only from the host")
	}
	if len(c.Ports) != 1 || ":"+ds.Spec.Template.Annotations["prometheus.io/port"] != listen ||
		c.Ports[0].ContainerPort != 9813 || listen != ":9813" {
		t.Errorf("ports %+v, --listen %q, scrape annotation %q disagree", c.Ports, listen, ds.Spec.Template.Annotations["prometheus.io/port"])
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
			t.Errorf("probe %+v: want GET /healthz", p)
		}
	}
}

// TestAgentLinksLittle: the agent is a shipped binary: no compiler side,
// no go/packages, no sigstore, no KMS provider, and none of the
// Kubernetes packages the manifest test uses.
func TestAgentLinksLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/bpf2go-signed-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"golang.org/x/tools", "sigstore", "/kms", "ebpf/cmd/bpf2go", "bpf2go-signed/gen", "bpf2go-signed/signing",
			"aws", "cloud.google.com", "azure", "vault", "k8s.io", "grpc", "opentelemetry"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the agent links %s", dep)
			}
		}
	}
}
