package deploy

import yaml "go.yaml.in/yaml/v3"

func decodeYAML(s string, v any) error { return yaml.Unmarshal([]byte(s), v) }
