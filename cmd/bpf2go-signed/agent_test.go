package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentDispatch: "bpf2go-signed agent ARGS" runs bpf2go-signed-agent
// ARGS from PATH (a script here that records its arguments), and says how
// to install it when it is missing.
func TestAgentDispatch(t *testing.T) {
	if os.Getenv("BPF2GO_SIGNED_AGENT_DISPATCH") != "" {
		os.Exit(run(strings.Fields(os.Getenv("BPF2GO_SIGNED_AGENT_DISPATCH")), os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$0 $*\" > " + out + "\nexit 7\n"
	if err := os.WriteFile(filepath.Join(dir, agentCommand), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	self := func(path string) (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestAgentDispatch$")
		cmd.Env = append(os.Environ(), "PATH="+path, "BPF2GO_SIGNED_AGENT_DISPATCH=agent --trust /etc/trust --listen :1")
		b, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(b), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}

	if _, code := self(dir); code != 7 {
		t.Errorf("exit %d, want the agent's 7", code)
	}
	got, err := os.ReadFile(out)
	if want := filepath.Join(dir, agentCommand) + " --trust /etc/trust --listen :1\n"; err != nil || string(got) != want {
		t.Errorf("agent ran as %q (%v), want %q", got, err, want)
	}

	msg, code := self(t.TempDir())
	if code != 1 || !strings.Contains(msg, "go install github.com/bpf2go-signed/bpf2go-signed/agent/cmd/bpf2go-signed-agent") {
		t.Errorf("without the agent: exit %d, %q", code, msg)
	}
}
