// Package build is the build side of sealing and measurement: it reads a
// BPF object ([LoadSpec]), resolves the developer's sealing declarations
// against it with typed contents files ([Resolve], [ParseContents]), and
// measures it under its sealing plan ([Measure]), the one function the
// generator, the CLI and the tests measure objects with.
//
// Shipped binaries do not link it: the loader decodes the plan embedded
// in the generated code with sealmap.DecodePlan, whose contents are raw
// hex, and measures through the kernel (package measure).
package build
