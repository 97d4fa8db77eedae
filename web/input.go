package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

// Input validation of the JSON API and the pages. A bad parameter is a 400
// whose message names the parameter and what it takes, never a silent
// default and never the words of a library's internals.

// listResults are the values of ?result=: a result, or a state.
var listResults = []string{"pass", "fail", "error", store.StateQueued, store.StateRunning, store.StateSuperseded}

// filterOf reads the list filters from the query.
func filterOf(c echo.Context) (store.Filter, error) {
	f := store.Filter{Repo: c.QueryParam("repo"), Result: c.QueryParam("result"), Image: c.QueryParam("image"), Limit: 25}
	if f.Result != "" && !contains(listResults, f.Result) {
		return f, fmt.Errorf("result %q: want one of %s", f.Result, strings.Join(listResults, ", "))
	}
	var err error
	if f.Limit, err = intParam(c, "limit", 25, 1, 200); err != nil {
		return f, err
	}
	if f.Offset, err = intParam(c, "offset", 0, 0, 1<<31-1); err != nil {
		return f, err
	}
	if f.PR, err = intParam(c, "pr", 0, 1, 1<<31-1); err != nil {
		return f, err
	}
	return f, nil
}

// intParam reads an integer query parameter in [lo, hi]; absent or empty
// is def.
func intParam(c echo.Context, name string, def, lo, hi int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		if hi == 1<<31-1 {
			return 0, fmt.Errorf("%s %q: want a whole number from %d", name, s, lo)
		}
		return 0, fmt.Errorf("%s %q: want a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// decodeBody reads one JSON object into v, strictly: an unknown field, a
// value of the wrong type, a body that is not JSON or has more than one
// value is an error that names the field, in the API's words.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return fmt.Errorf("body: Content-Type %q: want application/json", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("body: want one JSON object, found more after it")
	}
	return nil
}

func bodyError(err error, v any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("body: empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("body: the JSON ends too early")
	case errors.As(err, &syn):
		return fmt.Errorf("body: not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &big):
		return fmt.Errorf("body: larger than %d bytes", big.Limit)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("body: %s: want %s, got a JSON %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("body: want a JSON object, got a JSON %s", typ.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("body: unknown field %s (known: %s)", f, strings.Join(jsonFields(v), ", "))
	}
	return errors.New("body: not a valid JSON object")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an object"
}

// jsonFields lists the JSON names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
