package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/bpf2go-signed/bpf2go-signed/internal/cli"
)

// agentCommand is the host agent's executable. It is a separate module
// (agent/ in this repository) so that the generator's module does not
// depend on the Prometheus client.
const agentCommand = "bpf2go-signed-agent"

// errNoAgent: the agent's executable is neither next to this one nor on
// PATH.
var errNoAgent = errors.New(agentCommand + " not found next to bpf2go-signed or on PATH: install it with " +
	"go install github.com/bpf2go-signed/bpf2go-signed/agent/cmd/" + agentCommand + "@latest (or make build in the repository: bin/)")

// findAgent looks for the agent next to this executable, then on PATH.
func findAgent() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), agentCommand)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(agentCommand); err == nil {
		return p, nil
	}
	return "", errNoAgent
}

// runAgent replaces this process with the agent, git-style: `bpf2go-signed
// agent ARGS` runs `bpf2go-signed-agent ARGS`. The agent parses its
// options itself; -h, -help or --help prints this command's usage.
func runAgent(c *cli.Command, args []string, _, _ io.Writer) error {
	if slices.ContainsFunc(args, cli.IsHelpWord) {
		return &cli.HelpRequested{FS: agentFlags(c)}
	}
	p, err := findAgent()
	if err != nil {
		return err
	}
	if err := syscall.Exec(p, append([]string{p}, args...), os.Environ()); err != nil {
		return fmt.Errorf("run %s: %w", p, err)
	}
	return nil
}

// agentFlags describes the agent's main options for "bpf2go-signed agent
// -h"; the agent parses its options itself.
func agentFlags(c *cli.Command) *flag.FlagSet {
	fs := c.Flags()
	fs.String("trust", "", "the trust directory `DIR`, as for prog verify: public keys (*.pub) and envelopes (*.intoto.json); read again when it changes and on SIGHUP")
	fs.String("listen", "127.0.0.1:9813", "`ADDR` (host:port) of the HTTP server for /metrics and /healthz")
	fs.String("log", "json", "log format: json or text")
	return fs
}
