package appset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// checkFields refuses generator fields the gate does not know: an unknown
// field may change which apps exist (a newer Argo CD feature), so it is an
// error rather than ignored.
func checkFields(body map[string]any, known ...string) error {
	for k := range body {
		if !contains(known, k) {
			return fmt.Errorf("field %q is %w", k, ErrUnsupported)
		}
	}
	return nil
}

// list is Argo CD's ListGenerator (applicationset/generators/list.go).
func (e *expander) list(body map[string]any) ([]map[string]any, error) {
	if err := checkFields(body, "elements", "elementsYaml", "template"); err != nil {
		return nil, err
	}
	var elems []any
	if v, ok := body["elements"]; ok && v != nil {
		l, ok := v.([]any)
		if !ok {
			return nil, errors.New("elements: want a list")
		}
		elems = append(elems, l...)
	}
	if y, ok := body["elementsYaml"].(string); ok && y != "" {
		var l []any
		if err := yaml.Unmarshal([]byte(y), &l); err != nil {
			return nil, fmt.Errorf("elementsYaml: %w", err)
		}
		elems = append(elems, l...)
	}
	var out []map[string]any
	for i, el := range elems {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("elements[%d]: want an object", i)
		}
		if e.goTemplate {
			out = append(out, m)
			continue
		}
		p := map[string]any{}
		for k, v := range m {
			if k == "values" {
				vm, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("elements[%d].values: want an object", i)
				}
				for vk, vv := range vm {
					s, err := scalar(vv)
					if err != nil {
						return nil, fmt.Errorf("elements[%d].values.%s: %w", i, vk, err)
					}
					p["values."+vk] = s
				}
				continue
			}
			s, err := scalar(v)
			if err != nil {
				return nil, fmt.Errorf("elements[%d].%s: %w", i, k, err)
			}
			p[k] = s
		}
		out = append(out, p)
	}
	return out, nil
}

// scalar is a fasttemplate parameter value: fasttemplate substitutes strings
// only, so numbers and booleans are written as YAML would print them.
func scalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, int, int64, float64, json.Number:
		return fmt.Sprint(v), nil
	case nil:
		return "", nil
	}
	return "", errors.New("want a string (without goTemplate, list values are strings)")
}

// clusters is Argo CD's ClusterGenerator over the configured cluster list.
func (e *expander) clusters(body map[string]any) ([]map[string]any, error) {
	if err := checkFields(body, "selector", "values", "template", "flatList"); err != nil {
		return nil, err
	}
	if f, _ := body["flatList"].(bool); f {
		return nil, fmt.Errorf("flatList is %w", ErrUnsupported)
	}
	sel, err := parseSelector(body["selector"])
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	values, err := stringMap(body["values"])
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	clusters := e.opts.Clusters
	hasLocal := false
	for _, c := range clusters {
		hasLocal = hasLocal || c.Server == InClusterServer
	}
	var out []map[string]any
	// Argo CD lists the in-cluster cluster, which has no secret and so no
	// labels, only when the selector is empty.
	if !hasLocal && !e.opts.NoInCluster && sel.empty() {
		p := map[string]any{"name": "in-cluster", "nameNormalized": "in-cluster", "server": InClusterServer, "project": ""}
		if e.goTemplate {
			p["metadata"] = map[string]any{"labels": map[string]any{}, "annotations": map[string]any{}}
		}
		if err := e.appendValues(values, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	for _, c := range clusters {
		labels := map[string]string{"argocd.argoproj.io/secret-type": "cluster"}
		for k, v := range c.Labels {
			labels[k] = v
		}
		if !sel.matches(labels) {
			continue
		}
		p := map[string]any{"name": c.Name, "nameNormalized": sanitizeName(c.Name), "server": c.Server, "project": ""}
		if e.goTemplate {
			l, a := map[string]any{}, map[string]any{}
			for k, v := range labels {
				l[k] = v
			}
			for k, v := range c.Annotations {
				a[k] = v
			}
			p["metadata"] = map[string]any{"labels": l, "annotations": a}
		} else {
			for k, v := range labels {
				p["metadata.labels."+k] = v
			}
			for k, v := range c.Annotations {
				p["metadata.annotations."+k] = v
			}
		}
		if err := e.appendValues(values, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// appendValues is Argo CD's appendTemplatedValues: each value is a template
// over the generator's own params.
func (e *expander) appendValues(values map[string]string, p map[string]any) error {
	if len(values) == 0 {
		return nil
	}
	tmp := map[string]string{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, err := e.replace(values[k], p)
		if err != nil {
			return fmt.Errorf("values.%s: %w", k, err)
		}
		tmp[k] = r
	}
	if e.goTemplate {
		vm := map[string]any{}
		for k, v := range tmp {
			vm[k] = v
		}
		p["values"] = vm
		return nil
	}
	for k, v := range tmp {
		p["values."+k] = v
	}
	return nil
}

func stringMap(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want an object of strings")
	}
	out := map[string]string{}
	for k, v := range m {
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// git is Argo CD's GitGenerator (applicationset/generators/git.go), reading
// the checkout instead of a repo-server.
func (e *expander) git(body map[string]any) ([]map[string]any, error) {
	if err := checkFields(body, "repoURL", "revision", "directories", "files", "pathParamPrefix", "values", "template", "requeueAfterSeconds"); err != nil {
		return nil, err
	}
	repoURL, _ := body["repoURL"].(string)
	if e.opts.Repo == nil || e.opts.IsThisRepo == nil || !e.opts.IsThisRepo(repoURL) {
		return nil, fmt.Errorf("repoURL %q: %w: the gate reads only this checkout, and listing another repository is %w", repoURL, ErrOtherRepo, ErrUnsupported)
	}
	// revision: the gate checks the checkout it was given, which is the
	// revision under review.
	prefix, _ := body["pathParamPrefix"].(string)
	values, err := stringMap(body["values"])
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	dirs, err := pathItems(body["directories"])
	if err != nil {
		return nil, fmt.Errorf("directories: %w", err)
	}
	files, err := pathItems(body["files"])
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	if err := e.listRepo(); err != nil {
		return nil, err
	}
	switch {
	case len(dirs) > 0:
		return e.gitDirectories(dirs, prefix, values)
	case len(files) > 0:
		return e.gitFiles(files, prefix, values)
	}
	return nil, errors.New("neither directories nor files")
}

type pathItem struct {
	Path    string
	Exclude bool
}

func pathItems(v any) ([]pathItem, error) {
	if v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New("want a list")
	}
	var out []pathItem
	for i, el := range l {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d]: want an object", i)
		}
		if err := checkFields(m, "path", "exclude"); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		var it pathItem
		it.Path, _ = m["path"].(string)
		it.Exclude, _ = m["exclude"].(bool)
		out = append(out, it)
	}
	return out, nil
}

// listRepo lists the checkout once, as the repo-server does: directories
// whose name starts with "." are skipped with everything under them, and
// symlinks are not followed.
func (e *expander) listRepo() error {
	if e.dirs != nil || e.files != nil || e.walk != nil {
		return e.walk
	}
	e.dirs, e.files = []string{}, []string{}
	e.walk = fs.WalkDir(e.opts.Repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("listing the repository at %s: %w", p, err)
		}
		if p == "." {
			return nil
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			e.dirs = append(e.dirs, p)
			return nil
		}
		// A symlinked file is listed (Argo CD's git ls-files lists it) and
		// read through the confined file system, which refuses one that
		// leads out of the repository.
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			e.files = append(e.files, p)
		}
		return nil
	})
	return e.walk
}

func (e *expander) gitDirectories(items []pathItem, prefix string, values map[string]string) ([]map[string]any, error) {
	var out []map[string]any
	for _, dir := range e.dirs {
		inc, exc := false, false
		for _, it := range items {
			ok, err := path.Match(trimSlash(it.Path), dir)
			if err != nil {
				return nil, fmt.Errorf("directories path %q: %w", it.Path, err)
			}
			if ok && it.Exclude {
				exc = true
			} else if ok {
				inc = true
			}
		}
		// An exclude wins over any include (Argo CD's filterApps).
		if !inc || exc {
			continue
		}
		p := map[string]any{}
		if e.goTemplate {
			pp := map[string]any{
				"path": dir, "basename": path.Base(dir), "basenameNormalized": sanitizeName(path.Base(dir)),
				"segments": toAnyList(strings.Split(dir, "/")),
			}
			setPathParam(p, prefix, pp)
		} else {
			name := pathParamName(prefix)
			p[name] = dir
			p[name+".basename"] = path.Base(dir)
			p[name+".basenameNormalized"] = sanitizeName(path.Base(dir))
			for i, seg := range strings.Split(dir, "/") {
				if seg != "" {
					p[name+"["+strconv.Itoa(i)+"]"] = seg
				}
			}
		}
		if err := e.appendValues(values, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (e *expander) gitFiles(items []pathItem, prefix string, values map[string]string) ([]map[string]any, error) {
	// Argo CD has two globbings for this generator: the default, greedy one
	// (git ls-files pathspecs, where "*" crosses "/") and the doublestar one
	// behind --enable-new-git-file-globbing. The gate cannot see which one the
	// controller runs, so it takes every file either would pick: seeing an
	// app the cluster lacks costs a false failure, missing one a false pass.
	var picked []string
	for _, f := range e.files {
		if pickedBy(items, f, globMatch) || pickedBy(items, f, greedyMatch) {
			picked = append(picked, f)
		}
	}
	sort.Strings(picked)
	var out []map[string]any
	for _, f := range picked {
		data, err := e.readFile(f)
		if err != nil {
			return nil, err
		}
		objs, err := parseParamFile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		dir := path.Dir(f)
		for _, obj := range objs {
			p := map[string]any{}
			if e.goTemplate {
				for k, v := range obj {
					p[k] = v
				}
				pp := map[string]any{
					"path": dir, "basename": path.Base(dir), "filename": path.Base(f),
					"basenameNormalized": sanitizeName(path.Base(dir)), "filenameNormalized": sanitizeName(path.Base(f)),
					"segments": toAnyList(strings.Split(dir, "/")),
				}
				setPathParam(p, prefix, pp)
			} else {
				flatten("", obj, p)
				name := pathParamName(prefix)
				p[name] = dir
				p[name+".basename"] = path.Base(dir)
				p[name+".filename"] = path.Base(f)
				p[name+".basenameNormalized"] = sanitizeName(path.Base(dir))
				p[name+".filenameNormalized"] = sanitizeName(path.Base(f))
				for i, seg := range strings.Split(dir, "/") {
					if seg != "" {
						p[name+"["+strconv.Itoa(i)+"]"] = seg
					}
				}
			}
			if err := e.appendValues(values, p); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func (e *expander) readFile(name string) ([]byte, error) {
	f, err := e.opts.Repo.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, e.opts.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > e.opts.MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, e.opts.MaxFileSize)
	}
	return data, nil
}

// parseParamFile reads one git files generator file: one object, or a list
// of objects (each one parameter set).
func parseParamFile(data []byte) ([]map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return []map[string]any{{}}, nil
	}
	var one map[string]any
	if err := yaml.Unmarshal(data, &one); err == nil {
		if one == nil {
			one = map[string]any{}
		}
		return []map[string]any{one}, nil
	}
	var many []map[string]any
	if err := yaml.Unmarshal(data, &many); err != nil {
		return nil, fmt.Errorf("want a YAML or JSON object or list of objects: %w", err)
	}
	return many, nil
}

// flatten is jeremywohl/flatten's DotStyle as Argo CD uses it: nested keys
// joined with ".", list indexes as keys, leaves printed with %v.
func flatten(prefix string, v any, out map[string]any) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 && prefix != "" {
			out[prefix] = "map[]"
		}
		for k, x := range v {
			flatten(key(k), x, out)
		}
	case []any:
		if len(v) == 0 && prefix != "" {
			out[prefix] = "[]"
		}
		for i, x := range v {
			flatten(key(strconv.Itoa(i)), x, out)
		}
	default:
		out[prefix] = fmt.Sprintf("%v", v)
	}
}

func pathParamName(prefix string) string {
	if prefix != "" {
		return prefix + ".path"
	}
	return "path"
}

func setPathParam(p map[string]any, prefix string, pp map[string]any) {
	if prefix != "" {
		p[prefix] = map[string]any{"path": pp}
	} else {
		p["path"] = pp
	}
}

func toAnyList(s []string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// globMatch matches a slash-separated path against a pattern in which "**"
// is any number of whole segments and other segments follow path.Match, as
// Argo CD's git file globbing (doublestar) does.
func globMatch(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

// pickedBy reports whether a file is included and not excluded by the
// generator's path items under one globbing.
func pickedBy(items []pathItem, f string, match func(pattern, name string) bool) bool {
	inc, exc := false, false
	for _, it := range items {
		if match(trimSlash(it.Path), f) {
			if it.Exclude {
				exc = true
			} else {
				inc = true
			}
		}
	}
	return inc && !exc
}

// greedyMatch is git's default pathspec matching (fnmatch without
// FNM_PATHNAME), which Argo CD's git files generator uses unless the new
// globbing is enabled: "*" and "?" also match "/".
func greedyMatch(pattern, name string) bool {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(pattern[i+1:], ']')
			if j < 0 {
				b.WriteString(regexp.QuoteMeta("["))
				continue
			}
			class := pattern[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return false
	}
	return re.MatchString(name)
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if matchSegs(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		ok, err := path.Match(pat[0], segs[0])
		if err != nil || !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// sanitizeName is Argo CD's utils.SanitizeName (the "normalize" function).
func sanitizeName(name string) string {
	name = strings.ToLower(name)
	name = invalidDNSNameChars.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

// matrix is Argo CD's MatrixGenerator: the product of two generators, the
// second rendered with each parameter set of the first.
func (e *expander) matrix(body map[string]any, where string, depth int) ([]map[string]any, error) {
	if err := checkFields(body, "generators", "template"); err != nil {
		return nil, err
	}
	gens, _ := body["generators"].([]any)
	if len(gens) != 2 {
		return nil, fmt.Errorf("found %d generators, matrix supports exactly two", len(gens))
	}
	first, err := e.child(gens[0], where+".generators[0]", nil, depth)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, prev := range first {
		second, err := e.child(gens[1], where+".generators[1]", prev, depth)
		if err != nil {
			return nil, err
		}
		for _, cur := range second {
			if e.goTemplate {
				tmp := map[string]any{}
				deepMerge(tmp, prev, false)
				deepMerge(tmp, cur, false)
				out = append(out, tmp)
			} else {
				tmp := map[string]any{}
				for k, v := range prev {
					tmp[k] = v
				}
				for k, v := range cur {
					// fasttemplate params are strings; Sprint keeps the
					// comparison from panicking should one not be.
					if old, ok := tmp[k]; ok && fmt.Sprint(old) != fmt.Sprint(v) {
						return nil, fmt.Errorf("found duplicate key %s with different value, a: %v, b: %v", k, old, v)
					}
					tmp[k] = v
				}
				out = append(out, tmp)
			}
			if len(out) > e.opts.MaxApps {
				return nil, fmt.Errorf("more than %d parameter sets: %w", e.opts.MaxApps, errTooMany)
			}
		}
	}
	return out, nil
}

// merge is Argo CD's MergeGenerator: the first generator's parameter sets,
// each overridden by the sets of later generators with equal merge keys.
func (e *expander) merge(body map[string]any, where string, depth int) ([]map[string]any, error) {
	if err := checkFields(body, "generators", "mergeKeys", "template"); err != nil {
		return nil, err
	}
	gens, _ := body["generators"].([]any)
	if len(gens) < 2 {
		return nil, errors.New("found less than two generators, merge requires two or more")
	}
	keys, err := stringList(body["mergeKeys"])
	if err != nil {
		return nil, fmt.Errorf("mergeKeys: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("no merge keys were specified, merge requires at least one")
	}
	sets := make([][]map[string]any, len(gens))
	for i, g := range gens {
		if sets[i], err = e.child(g, fmt.Sprintf("%s.generators[%d]", where, i), nil, depth); err != nil {
			return nil, err
		}
	}
	keyOf := func(p map[string]any) string {
		k := map[string]any{}
		for _, mk := range keys {
			k[mk] = p[mk]
		}
		b, _ := json.Marshal(k)
		return string(b)
	}
	base := make([]map[string]any, len(sets[0]))
	for i, p := range sets[0] {
		base[i] = copyMap(p)
	}
	for gi, later := range sets[1:] {
		byKey := map[string]map[string]any{}
		for _, p := range later {
			k := keyOf(p)
			if _, dup := byKey[k]; dup {
				return nil, fmt.Errorf("generators[%d]: the parameters were not unique by the mergeKeys, merge requires unique param sets; duplicate key %s", gi+1, k)
			}
			byKey[k] = p
		}
		for i, b := range base {
			if o, ok := byKey[keyOf(b)]; ok {
				if e.goTemplate {
					deepMerge(b, o, true)
				} else {
					for k, v := range o {
						b[k] = v
					}
				}
				base[i] = b
			}
		}
	}
	return base, nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// deepMerge merges src into dst as mergo.Merge does for maps: nested maps
// are merged, other values are set when dst lacks the key (or is empty), or
// always with override.
func deepMerge(dst, src map[string]any, override bool) {
	for k, sv := range src {
		dv, ok := dst[k]
		dm, dIsMap := dv.(map[string]any)
		sm, sIsMap := sv.(map[string]any)
		switch {
		case ok && dIsMap && sIsMap:
			dm = copyMap(dm)
			deepMerge(dm, sm, override)
			dst[k] = dm
		case !ok || isEmpty(dv) || override:
			dst[k] = deepCopy(sv)
		}
	}
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}
