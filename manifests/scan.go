package manifests

import (
	"context"
	"fmt"
	"sync"
)

// InventoryAPIVersion versions the JSON shape of Inventory (docs/output.md).
const InventoryAPIVersion = "gitops-gate.dev/v1alpha1"

// Inventory is every app of a repository with its image references.
type Inventory struct {
	APIVersion string      `json:"apiVersion"`
	Apps       []AppImages `json:"apps"`
}

// AppImages is one app's entry in an Inventory.
type AppImages struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
	// GeneratedBy names the ApplicationSet that generated the app.
	GeneratedBy *GeneratedBy `json:"generatedBy,omitempty"`
	Error       string       `json:"error,omitempty"`
	Images      []ImageRef   `json:"images"`
	// Warnings are image fields the gate does not judge (see Warning).
	Warnings []Warning `json:"warnings,omitempty"`
	// Remote, Dependencies and ValueSources say what the app's fetched
	// files resolved to (App.Remote, App.Dependencies, App.ValueSources): a
	// commit, a chart's version and digest, or an OCI artifact's tag and
	// manifest digest.
	Remote       *RemoteSource  `json:"remote,omitempty"`
	Dependencies []RemoteSource `json:"dependencies,omitempty"`
	ValueSources []RemoteSource `json:"valueSources,omitempty"`
	// CarriedOver says the entry was not rendered but carried over from
	// an earlier scan whose inputs it shares (ScanOptions.Reuse).
	CarriedOver bool `json:"carriedOver,omitempty"`

	// Source is the app as discovery produced it (before rendering), and
	// Inputs what rendering and extracting it read: what incremental
	// evaluation records. Neither is part of the inventory's JSON.
	Source *App      `json:"-"`
	Inputs *InputSet `json:"-"`
}

// ScanOptions select what Scan renders.
type ScanOptions struct {
	// App limits the scan to the app of that name (or path); empty means all.
	App string
	// Adjust, when set, may change each selected app's settings before it
	// renders (the Argo CD plugin's environment); its error fails that app.
	Adjust func(*App) error
	// Reuse, when set, is asked for each app (after Adjust) before it
	// renders, concurrently: an entry it returns is used as the app's,
	// unrendered (it should be marked CarriedOver and hold its Source and
	// Inputs).
	Reuse func(App) (AppImages, bool)
	// OnApp, when set, is called once for each app as soon as its entry is
	// final (carried over, or rendered and extracted), concurrently and in
	// no particular order, with the app's index in the inventory and its
	// rendering (nil when carried over). It may change the entry (add
	// images); it must not keep the pointer. This is what lets the gate
	// judge the first apps' images while the others still render.
	OnApp func(i int, app *AppImages, rd *Rendered)
	// Discard drops each rendering once OnApp has seen it: Scan then
	// returns no renderings, and a large repository's rendered objects are
	// not all held at once.
	Discard bool
}

// Scan discovers, renders and extracts every app, rendering in parallel.
// The result lists every app, with its error if it could not be rendered.
func (r *Repo) Scan(ctx context.Context, opts ScanOptions) (*Inventory, []*Rendered, error) {
	apps, err := r.Discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	ex := r.opts.Extractors
	if cfg, err := r.loadConfig(); err == nil && cfg != nil {
		ex = ex.Merge(cfg.ImageExtractors)
	}
	if opts.App != "" {
		var sel []App
		for _, a := range apps {
			if a.Name == opts.App || a.Path == opts.App {
				sel = append(sel, a)
			}
		}
		if len(sel) == 0 {
			return nil, nil, fmt.Errorf("no app named %q in %s (see `gitops-gate images` for the list)", opts.App, r.root)
		}
		apps = sel
	}
	if opts.Adjust != nil {
		for i := range apps {
			if apps[i].Err != nil {
				continue
			}
			if err := opts.Adjust(&apps[i]); err != nil {
				apps[i].Err = err
			}
			// Discovery may have rendered it with its old settings.
			r.prerendered.Delete(apps[i].Path)
		}
	}
	inv := &Inventory{APIVersion: InventoryAPIVersion, Apps: make([]AppImages, len(apps))}
	onApp := opts.OnApp
	if onApp == nil {
		onApp = func(int, *AppImages, *Rendered) {}
	}
	// Apps carried over are not rendered; the others render in parallel.
	reused := make([]bool, len(apps))
	if opts.Reuse != nil {
		// Checking an app's inputs reads and hashes files: in parallel.
		sem := make(chan struct{}, r.opts.Concurrency)
		var wg sync.WaitGroup
		for i, app := range apps {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if e, ok := opts.Reuse(app); ok {
					inv.Apps[i], reused[i] = e, true
					onApp(i, &inv.Apps[i], nil)
				}
			}()
		}
		wg.Wait()
	}
	var toRender []App
	var at []int
	for i, app := range apps {
		if reused[i] {
			// A layout app discovery rendered is not needed again.
			r.prerendered.Delete(app.Path)
			continue
		}
		toRender = append(toRender, app)
		at = append(at, i)
	}
	var rendered []*Rendered
	if !opts.Discard {
		rendered = make([]*Rendered, len(toRender))
	}
	r.renderEach(ctx, toRender, func(k int, rd *Rendered) {
		ai := AppImages{Name: rd.App.Name, Path: rd.App.Path, Kind: rd.App.Kind, GeneratedBy: rd.App.GeneratedBy, Images: rd.Images(ex), Warnings: rd.Warnings(ex),
			Remote: rd.App.Remote, Dependencies: rd.App.Dependencies, ValueSources: rd.App.ValueSources}
		if ai.Images == nil {
			ai.Images = []ImageRef{}
		}
		if rd.Err != nil {
			ai.Error = rd.Err.Error()
		}
		src := toRender[k]
		ai.Source, ai.Inputs = &src, r.inputsOf(rd)
		inv.Apps[at[k]] = ai
		onApp(at[k], &inv.Apps[at[k]], rd)
		if rendered != nil {
			rendered[k] = rd
		}
	})
	return inv, rendered, nil
}

// RenderAll renders apps with bounded parallelism, keeping their order.
func (r *Repo) RenderAll(ctx context.Context, apps []App) []*Rendered {
	out := make([]*Rendered, len(apps))
	r.renderEach(ctx, apps, func(i int, rd *Rendered) { out[i] = rd })
	return out
}

// renderEach renders apps with bounded parallelism and hands each
// rendering to done, from the goroutine that rendered it, as it finishes.
func (r *Repo) renderEach(ctx context.Context, apps []App, done func(i int, rd *Rendered)) {
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			done(i, r.renderSafely(ctx, app))
		}()
	}
	wg.Wait()
}

// renderSafely is Render that turns a renderer's panic into the app's
// error: a renderer bug on hostile input must cost one app, not the
// process.
func (r *Repo) renderSafely(ctx context.Context, app App) (rd *Rendered) {
	defer func() {
		if p := recover(); p != nil {
			rd = &Rendered{App: app, Err: fmt.Errorf("app %s: rendering panicked: %v", app.Name, p)}
		}
	}()
	return r.Render(ctx, app)
}
