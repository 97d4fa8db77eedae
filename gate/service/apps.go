package service

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// permanentError marks an evaluation error that a retry cannot fix (the
// commit is fixed, and so is what it contains): the evaluation ends in
// error at once instead of being retried.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var pe permanentError
	return errors.As(err, &pe) || errors.Is(err, gate.ErrNoApps) || errors.Is(err, manifests.ErrInvalidConfig)
}

// maxRequestApps bounds the apps one API request may name.
const maxRequestApps = 500

// checkApps refuses app selectors that can name no app: empty, absolute,
// not clean (apps/web/ for apps/web), or leaving the repository.
func checkApps(apps []string) error {
	if len(apps) > maxRequestApps {
		return fmt.Errorf("%w: apps: at most %d", ErrBadRequest, maxRequestApps)
	}
	for i, a := range apps {
		if a == "" || strings.TrimSpace(a) != a || path.IsAbs(a) || path.Clean(a) != a || a == ".." || strings.HasPrefix(a, "../") {
			return fmt.Errorf("%w: apps[%d] %q: want an app name or a path relative to the repository root", ErrBadRequest, i, a)
		}
	}
	return nil
}

// knownApps checks that every app asked for is an app of the repository
// in dir.
func (s *Service) knownApps(ctx context.Context, dir, repoURL, repo string, want []string) error {
	r, err := manifests.Open(dir, s.manifestOptions(repoURL))
	if err != nil {
		return err
	}
	apps, err := r.Discover(ctx)
	if err != nil {
		return err
	}
	have := make([]gate.AppVerdict, len(apps))
	for i, a := range apps {
		have[i] = gate.AppVerdict{Name: a.Name, Path: a.Path}
	}
	if missing := missingApps(want, have); len(missing) > 0 {
		return fmt.Errorf("%w: apps: %s not in %s (its apps: %s)", ErrBadRequest, strings.Join(missing, ", "), repo, appList(have))
	}
	return nil
}

// missingApps lists the selectors that name no app by name or path.
func missingApps(want []string, have []gate.AppVerdict) []string {
	var out []string
	for _, w := range want {
		found := false
		for _, a := range have {
			if a.Name == w || a.Path == w {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%q", w))
		}
	}
	return out
}

func appList(apps []gate.AppVerdict) string {
	if len(apps) == 0 {
		return "none"
	}
	var names []string
	for i, a := range apps {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(apps)-10))
			break
		}
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}
