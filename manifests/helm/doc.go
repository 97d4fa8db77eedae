// Package helm runs Helm's template engine for one chart, as `helm template`
// does (dependencies, values, capabilities of the destination cluster), in
// this process or in a Sandbox: child processes with a deadline, a memory
// limit and an output bound, which also evaluate Jsonnet. Where the chart and
// its values come from is the caller's business; this package reads no
// repository and talks to no registry.
package helm
