package incremental

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
)

// GateVersion names this build of the gate for Fingerprint.Gate: the VCS
// revision it was built from, or, for a build from modified or unknown
// sources (a developer's, a test binary), the hash of the executable
// itself, so that two different builds never share records.
func GateVersion() string {
	gateVersionOnce.Do(func() { gateVersion = fmt.Sprintf("format %d; %s", FormatVersion, buildID()) })
	return gateVersion
}

var (
	gateVersionOnce sync.Once
	gateVersion     string
)

func buildID() string {
	rev, modified := "", true
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev != "" && !modified {
		return "revision " + rev
	}
	exe, err := os.Executable()
	if err == nil {
		var f *os.File
		if f, err = os.Open(exe); err == nil {
			defer f.Close()
			h := sha256.New()
			if _, err = io.Copy(h, f); err == nil {
				return "executable " + hex.EncodeToString(h.Sum(nil))
			}
		}
	}
	// Unknown: a value no other process shares, so nothing is reused.
	return fmt.Sprintf("unknown build, process %d: %v", os.Getpid(), err)
}
