package service

import "testing"

// TestStrictUnknownImagesKeysTheEngine: two repositories that differ only
// in strictUnknownImages get engines of their own (the setting was split
// out of TestLoadConfigStrictUnknownImages when the configuration moved to
// gate/service/config).
func TestStrictUnknownImagesKeysTheEngine(t *testing.T) {
	c := loadYAML(t, "defaults: {strictUnknownImages: true}\nrepos:\n- {name: acme/a}\n- {name: acme/b, strictUnknownImages: false}\n", "")
	a, _ := c.Settings("acme/a")
	b, _ := c.Settings("acme/b")
	if settingsKey(a) == settingsKey(b) {
		t.Error("strictUnknownImages does not change the engine")
	}
}
