// Package plugin serves sigstore KMS providers as sigstore KMS plugins:
// executables named sigstore-kms-<scheme> on the PATH, which sigstore
// (v1.10 and later) runs for a key reference <scheme>://<key> when no
// provider of that scheme is linked into the program. bpf2go-signed links
// no cloud KMS provider, so that adding the generator to a module does not
// add the cloud SDKs to its go.mod; these plugins bring them back as
// separate binaries, for bpf2go-signed and for cosign alike.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/kms/cliplugin/common"
	"github.com/sigstore/sigstore/pkg/signature/kms/cliplugin/encoding"
	"github.com/sigstore/sigstore/pkg/signature/kms/cliplugin/handler"
)

// Main runs the plugin protocol for key references of scheme (such as
// "awskms"), whose provider the calling main package links by importing
// it. It is the whole of a plugin's main function.
func Main(scheme string) {
	if err := Serve(scheme, os.Args, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "sigstore-kms-%s: %v\n", scheme, err)
		os.Exit(1)
	}
}

// Serve answers one plugin invocation: args are the plugin's command line
// (protocol version and JSON arguments), stdin the message to sign or
// verify. Errors of the provider go to stdout in the protocol's response,
// where sigstore reports them to the user; the returned error is for
// failures to speak the protocol at all.
func Serve(scheme string, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 2 && (args[1] == "-h" || args[1] == "--help") {
		fmt.Fprintf(stdout, "sigstore-kms-%[1]s: a sigstore KMS plugin for %[1]s:// keys.\n"+
			"Put it on the PATH; bpf2go-signed and cosign run it for --key %[1]s://...\n", scheme)
		return nil
	}
	pa, err := handler.GetPluginArgs(args)
	if err != nil {
		return fmt.Errorf("%w (this program is run by sigstore for %s:// keys, not by hand)", err, scheme)
	}
	if pa.InitOptions == nil || pa.MethodArgs == nil {
		return errors.New("plugin arguments without init options or method")
	}
	if pa.InitOptions.ProtocolVersion != common.ProtocolVersion {
		return handler.WriteErrorResponse(stdout, fmt.Errorf("plugin protocol %q, this plugin speaks %q: rebuild it with the caller's sigstore version", pa.InitOptions.ProtocolVersion, common.ProtocolVersion))
	}
	ctx := context.Background()
	if d := pa.InitOptions.CtxDeadline; d != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, *d)
		defer cancel()
	}
	ref := scheme + "://" + pa.InitOptions.KeyResourceID
	sv, err := kms.Get(ctx, ref, pa.InitOptions.HashFunc, encoding.UnpackRPCOptions(pa.InitOptions.RPCOptions)...)
	var notFound *kms.ProviderNotFoundError
	if errors.As(err, &notFound) {
		// Never fall back to a plugin: that would be this program.
		return handler.WriteErrorResponse(stdout, fmt.Errorf("no %s provider linked into this plugin", scheme))
	}
	if err != nil {
		return handler.WriteErrorResponse(stdout, err)
	}
	_, err = handler.Dispatch(stdout, stdin, pa, sv)
	return err
}
