package policy

// Files lists the YAML files Load reads from paths (a file as given, a
// directory recursively, without Kubernetes' ".." entries of a mounted
// ConfigMap), and the entries an ignore pattern excluded, so that another
// reader of policy directories (the IVPOL lints) reads exactly the same
// files.
func Files(o LoadOptions, paths ...string) (files, ignored []string, err error) {
	for _, p := range paths {
		f, ig, err := policyFiles(p, o.Ignore)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f...)
		ignored = append(ignored, ig...)
	}
	return files, ignored, nil
}
