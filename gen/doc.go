// Package gen is the generator behind "bpf2go-signed <ident> <source>": it
// does exactly what bpf2go v0.22.0 does (through cilium/ebpf's
// cmd/bpf2go/gen, so bpf2go's outputs are byte-for-byte bpf2go's), and per
// target also resolves the sealing plan, measures the object, signs the
// measurement (or writes an unsigned placeholder), and renders the
// verifying loader from package templates.
//
// # Port of bpf2go
//
// [Parse], [Run] and the unexported convert, removeObsolete (generate.go),
// readMakeRules, writeMakeRules (makedep.go), splitAtDoubleDash and
// splitQuoted (split.go) port the command-line half of bpf2go from
// cilium/ebpf v0.22.0 (cmd/bpf2go: main.go, flags.go, makedep.go,
// tools.go), whose package main cannot be imported. When cilium/ebpf is
// upgraded, compare those files with the new version. The differences, all
// deliberate:
//
//   - The environment is read through an [Env] function (tests pass their
//     own) instead of os.LookupEnv.
//   - Without -cc or $BPF2GO_CC the compiler is "clang" when it is on PATH,
//     else the newest clang-NN there; bpf2go always uses "clang". The
//     llvm-strip default is derived (with the same version suffix rule)
//     after that choice, in [Run].
//   - Targets are built in the order of their file suffix, not in map
//     order, so logs and the first failure are reproducible.
//   - The compiler gets -I for the directory holding bpf2go_signed.h.
//   - After bpf2go's Go file, each target also gets the signed outputs
//     (writeSigned); the flags -sign-key, -trust, -trust-identity,
//     -trusted-root, -seal, -seal-contents, -param and -target-btf are
//     this project's.
//   - An invalid -target does not print the list of targets, and the usage
//     text names this command's extra outputs instead of listing targets.
//   - Verbose log lines are "Compiled object file=..." whether or not the
//     object was stripped, and errors wrap their cause with %w where bpf2go
//     formats it with %s.
package gen
