// Package config is the gitops-gate service's configuration file
// (docs/configuration.md): it decodes the YAML strictly (an unknown key is
// an error that suggests the key meant, configkeys.go), applies the
// environment's secrets and the defaults, and validates the whole before the
// service starts, so that `serve` refuses a configuration it would misread
// rather than run with part of it ignored. Config.Settings gives a
// repository's effective settings, its own merged over the defaults.
//
// It is a package of its own, apart from gate/service, because it is a
// separate job: the command layer, the HTTP layer and the service read the
// configuration; only the service runs evaluations.
package config
