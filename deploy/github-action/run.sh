#!/usr/bin/env bash
# The logic of the gitops-gate GitHub Action (action.yml), kept in a script
# so that it can be run and tested outside GitHub.
#
#   run.sh install   installs gitops-gate; writes the output "bin"
#   run.sh check     runs `gitops-gate check -o github` on the workspace;
#                    writes the outputs result, failed, report-path, sarif-file
#
# Inputs arrive as INPUT_* environment variables (action.yml maps them), and
# the usual runner variables: GITHUB_WORKSPACE, GITHUB_OUTPUT, RUNNER_TEMP,
# GITHUB_ACTION_PATH. Written for bash 3.2 (macOS runners) and later.
set -euo pipefail

module=github.com/gitops-gate/gitops-gate

# escape_data escapes a workflow command's message as the runner unescapes it.
escape_data() {
  local s=$1
  s=${s//'%'/'%25'}
  s=${s//$'\r'/'%0D'}
  s=${s//$'\n'/'%0A'}
  printf '%s' "$s"
}

die() {
  echo "::error title=gitops-gate action::$(escape_data "$*")"
  exit 2
}

# set_output writes name=value to $GITHUB_OUTPUT in the heredoc form, with a
# random delimiter, so that no value can add outputs of its own.
set_output() {
  local delim
  delim="ghadelimiter_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  case $2 in *"$delim"*) die "output $1 holds its own delimiter" ;; esac
  printf '%s<<%s\n%s\n%s\n' "$1" "$delim" "$2" "$delim" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

install() {
  local dir bin
  dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}/gitops-gate-bin"
  mkdir -p "$dir"
  if [[ -n ${INPUT_BINARY:-} ]]; then
    [[ -f $INPUT_BINARY && -x $INPUT_BINARY ]] || die "binary: $INPUT_BINARY is not an executable file"
    bin=$INPUT_BINARY
  elif [[ -n ${INPUT_DOWNLOAD_URL:-} ]]; then
    # The gate verifies signatures: it is not itself run unverified.
    [[ -n ${INPUT_DOWNLOAD_SHA256:-} ]] || die "download-url needs download-sha256 (the release's checksum of that file)"
    case $INPUT_DOWNLOAD_URL in https://* | http://*) ;; *) die "download-url must be an http(s) URL" ;; esac
    local file="$dir/download"
    curl -fsSL --retry 3 -o "$file" -- "$INPUT_DOWNLOAD_URL" || die "download-url: cannot download $INPUT_DOWNLOAD_URL"
    local got want
    got=$(sha256_of "$file")
    want=$(printf '%s' "$INPUT_DOWNLOAD_SHA256" | tr 'A-F' 'a-f' | tr -d '[:space:]')
    want=${want#sha256:}
    if [[ $got != "$want" ]]; then
      rm -f "$file"
      die "download-url: SHA-256 is $got, want $want; not running it"
    fi
    case ${INPUT_DOWNLOAD_URL%%[?#]*} in
    *.tar.gz | *.tgz)
      mkdir -p "$dir/x"
      tar -xzf "$file" -C "$dir/x"
      bin=$(find "$dir/x" -maxdepth 2 -type f -name gitops-gate | head -n 1)
      [[ -n $bin ]] || die "download-url: the archive has no gitops-gate binary"
      ;;
    *) bin="$dir/gitops-gate" && mv "$file" "$bin" ;;
    esac
    chmod +x "$bin"
  else
    command -v go >/dev/null 2>&1 || die "no gitops-gate to run: set binary or download-url, or set up Go (actions/setup-go) to build it"
    bin="$dir/gitops-gate"
    if [[ -n ${INPUT_VERSION:-} ]]; then
      GOBIN=$dir go install "$module/cmd/gitops-gate@$INPUT_VERSION" || die "go install $module/cmd/gitops-gate@$INPUT_VERSION failed"
    else
      # The action's own checkout is the module at the action's version
      # (github.action_ref is not reliable in composite actions).
      local root="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}/../.."
      grep -q "^module $module\$" "$root/go.mod" 2>/dev/null || die "$root is not the $module module; set version, binary or download-url"
      (cd "$root" && go build -trimpath -o "$bin" ./cmd/gitops-gate) || die "building gitops-gate from $root failed"
    fi
  fi
  "$bin" version || die "$bin does not run"
  set_output bin "$bin"
}

# summary_count prints a count from the JSON report's summary. WriteJSON
# indents by two spaces, so the summary's fields, and only they, sit at four
# spaces; strings are escaped on one line, so no value can fake one.
summary_count() {
  local n
  n=$(sed -n "s/^    \"$1\": \([0-9][0-9]*\),\{0,1\}\$/\1/p" "$2" | head -n 1)
  printf '%s' "${n:-0}"
}

# add_lines appends "FLAG line" to args for every non-blank line of $2.
add_lines() {
  local line
  while IFS= read -r line; do
    line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    if [[ -n $line ]]; then
      args+=("$1" "$line")
    fi
  done <<<"$2"
}

check() {
  local bin=${GITOPS_GATE_BIN:?GITOPS_GATE_BIN is not set: run the install step first}
  local ws=${GITHUB_WORKSPACE:?GITHUB_WORKSPACE is not set}
  local fail_on=${INPUT_FAIL_ON:-error}
  case $fail_on in deny | error | never) ;; *) die "fail-on is \"$fail_on\": want deny, error or never" ;; esac
  local report="${RUNNER_TEMP:?RUNNER_TEMP is not set}/gitops-gate-report.json"
  rm -f "$report"

  # Relative inputs are relative to the workspace, as in the workflow.
  cd "$ws"
  local args=(check -o github --json-file "$report")
  add_lines --policy "${INPUT_POLICY:-}"
  add_lines --identity "${INPUT_IDENTITY:-}"
  add_lines --key "${INPUT_KEY:-}"
  if [[ -n ${INPUT_TRUSTED_ROOT:-} ]]; then
    args+=(--trusted-root "$INPUT_TRUSTED_ROOT")
  fi
  case ${INPUT_TUF:-false} in
  true) args+=(--tuf) ;;
  false | "") ;;
  *) die "tuf is \"$INPUT_TUF\": want true or false" ;;
  esac
  if [[ -n ${INPUT_SARIF:-} ]]; then
    args+=(--sarif-file "$INPUT_SARIF")
  fi

  local code=0
  "$bin" "${args[@]}" -- "${INPUT_PATH:-.}" || code=$?

  local result failed=0
  case $code in
  0) result=pass ;;
  1) result=fail ;;
  *) result=error ;;
  esac
  if [[ -f $report ]]; then
    failed=$(($(summary_count failed "$report") + $(summary_count errors "$report")))
    set_output report-path "$report"
  else
    set_output report-path ""
  fi
  set_output result "$result"
  set_output failed "$failed"
  if [[ -n ${INPUT_SARIF:-} && -f $INPUT_SARIF ]]; then
    case $INPUT_SARIF in
    /*) set_output sarif-file "$INPUT_SARIF" ;;
    *) set_output sarif-file "$ws/$INPUT_SARIF" ;;
    esac
  else
    set_output sarif-file ""
  fi

  case $code in
  0) return 0 ;;
  1 | 3)
    # The verdict: fail-on decides whether it fails the step.
    if [[ $fail_on == never || ($fail_on == deny && $code == 3) ]]; then
      echo "::warning title=gitops-gate::result $result; the step passes because fail-on is $fail_on"
      return 0
    fi
    exit "$code"
    ;;
  esac
  # A usage or configuration error (2), or a crash: never a pass.
  echo "::error title=gitops-gate::gitops-gate exited with code $code"
  exit "$code"
}

case ${1:-} in
install) install ;;
check) check ;;
*)
  echo "usage: run.sh install|check" >&2
  exit 2
  ;;
esac
