package tree

// Recorder is implemented by a Tree that records what a render depends on
// besides the files it reads through ReadFile (an app's input set): the
// directory listings and existence probes renderers make on disk directly,
// and dependencies that cannot be recorded at all. A Tree that does not
// implement it records nothing; the functions below make the calls
// unconditional for the renderers.
type Recorder interface {
	// RecordDir notes that the listing of directory abs decides what is
	// read.
	RecordDir(abs string)
	// RecordProbe notes that whether abs exists (and is a directory)
	// decides what is read.
	RecordProbe(abs string)
	// RecordAlways notes a dependency that cannot be recorded: the app
	// must always be rendered again, for the reason given.
	RecordAlways(reason string)
}

// RecordDir calls t's RecordDir if t is a Recorder.
func RecordDir(t Tree, abs string) {
	if rec, ok := t.(Recorder); ok {
		rec.RecordDir(abs)
	}
}

// RecordProbe calls t's RecordProbe if t is a Recorder.
func RecordProbe(t Tree, abs string) {
	if rec, ok := t.(Recorder); ok {
		rec.RecordProbe(abs)
	}
}

// RecordAlways calls t's RecordAlways if t is a Recorder.
func RecordAlways(t Tree, reason string) {
	if rec, ok := t.(Recorder); ok {
		rec.RecordAlways(reason)
	}
}
