#!/usr/bin/env bash
# Checks the deployment files with the real tools: ./scripts/check-deploy.sh WHAT, WHAT one of
#   cloud-init  cloud-init's schema check of templates/cloud-init/agent.yaml
#   terraform   terraform fmt -check of terraform/ (providers cannot be downloaded here, so no
#               init or validate of the fleet modules)
#   terraform-user-data  the user data the modules render (terraform apply of the shared
#               module, which needs no provider): cloud-init's schema, the agent config parses
#               and carries each worker's own join token, and the bus's CA reaches the agent
#   nomad       the Nomad job's HCL syntax and format (terraform fmt parses any HCL), and that
#               it listens in the clear on loopback only (nats-server's tls block, the API's
#               certificate)
#   packer      packer validate of packer/worker.pkr.hcl (placeholder secrets and package)
#   prometheus  promtool check rules and promtool test rules of templates/prometheus/ (the
#               alert rules, and their unit tests), and that the Grafana dashboard is JSON
# Exits 77 (ctest: skipped) when the tool is not installed and cannot be (terraform, which
# Debian does not package), or is not installed (promtool, from Debian's prometheus).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# No user CLI config: nothing here needs one, and terraform warns when it is missing.
export TF_CLI_CONFIG_FILE=/dev/null
need() {
  command -v "$1" >/dev/null || { echo "check-deploy: $1 is missing (scripts/install-deps.sh)" >&2; exit 1; }
}
terraform_or_skip() {
  command -v terraform >/dev/null || { echo "check-deploy: no terraform here; skipped" >&2; exit 77; }
}
case "${1:-}" in
  prometheus)
    command -v promtool >/dev/null ||
      { echo "check-deploy: no promtool here (Debian package prometheus; scripts/install-deps.sh); skipped" >&2; exit 77; }
    promtool check rules "$ROOT/templates/prometheus/alerts.yml"
    (cd "$ROOT/templates/prometheus" && promtool test rules alerts_test.yml)
    python3 -m json.tool "$ROOT/templates/grafana/autovibe.json" >/dev/null ;;
  cloud-init)
    need cloud-init
    cloud-init schema --config-file "$ROOT/templates/cloud-init/agent.yaml"
    # The bus's CA, public, where the agent's nats_ca names it.
    grep -A4 -- '- path: /etc/autovibe/nats-ca.pem' "$ROOT/templates/cloud-init/agent.yaml" |
      grep -q "permissions: '0644'" ||
      { echo "check-deploy: the cloud-init template does not write /etc/autovibe/nats-ca.pem 0644" >&2; exit 1; } ;;
  terraform)
    terraform_or_skip
    terraform fmt -check -recursive -diff "$ROOT/terraform" ;;
  terraform-user-data)
    # The modules' user data, rendered by terraform itself (the module needs no provider), is
    # what cloud-init accepts and carries an agent config that parses.
    terraform_or_skip
    need cloud-init
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    module=$(realpath --relative-to="$tmp" "$ROOT/terraform/modules/agent-user-data")
    # A CA for the bus, as an operator makes one.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -subj /CN=check-deploy-ca -keyout "$tmp/ca.key" -out "$tmp/nats-ca.pem" 2>/dev/null
    cat > "$tmp/main.tf" <<TF
module "ud" {
  source              = "$module"
  names               = ["w-1", "w-2"]
  backend             = "libvirt"
  controller_nats_url = "tls://10.0.0.2:4222"
  nats_ca_pem         = file("\${path.module}/nats-ca.pem")
  join_tokens         = ["j-0123456789ab.00ff", "j-ba9876543210.ff00"]
  labels              = { pool = "kvm", "gpu.kind" = "none" }
  tools               = ["git", "claude-code", "codex"]
}
output "user_data" {
  value     = module.ud.user_data
  sensitive = true
}
TF
    export TF_IN_AUTOMATION=1
    (cd "$tmp" && terraform init -input=false -no-color >/dev/null &&
      terraform apply -auto-approve -input=false -no-color >/dev/null &&
      terraform output -json user_data > user_data.json)
    python3 - "$tmp" "$ROOT" <<'PY'
import base64, json, sys, tomllib
tmp, root = sys.argv[1], sys.argv[2]
docs = json.load(open(f"{tmp}/user_data.json"))
assert len(docs) == 2, docs
for i, doc in enumerate(docs):
    open(f"{tmp}/w{i}.yaml", "w").write(doc)
    lines = doc.splitlines()
    at = lines.index("  - path: /etc/autovibe/agent.toml")
    content = next(l for l in lines[at:] if l.strip().startswith("content:"))
    config = tomllib.loads(base64.b64decode(content.split()[-1]).decode())
    assert config["name"] == f"w-{i + 1}", config
    # Each worker its own one-time join token; no shared bus user.
    assert config["join_token"] == ["j-0123456789ab.00ff", "j-ba9876543210.ff00"][i], config
    assert "nats_user" not in config and "nats_password" not in config, config
    assert config["labels"] == {"pool": "kvm", "gpu.kind": "none"}, config
    # The bus's CA: written by cloud-init, public (0644), named by the agent's config.
    assert config["nats"] == "tls://10.0.0.2:4222", config
    assert config["nats_ca"] == "/etc/autovibe/nats-ca.pem", config
    at = lines.index("  - path: /etc/autovibe/nats-ca.pem")
    entry = lines[at:at + 5]
    assert "    permissions: '0644'" in entry, entry
    content = next(l for l in entry if l.strip().startswith("content:"))
    ca = base64.b64decode(content.split()[-1].strip("'"))
    assert ca == open(f"{tmp}/nats-ca.pem", "rb").read(), ca
    # The tools cloud-init installs, pinned by the tree's lockfiles.
    assert "tools='git claude-code codex'" in doc, doc
    for tool in ("claude-code", "codex"):
        at = lines.index(f"  - path: /usr/local/share/autovibe/tools/{tool}/package-lock.json")
        content = next(l for l in lines[at:] if l.strip().startswith("content:"))
        assert base64.b64decode(content.split()[-1]) == open(
            f"{root}/templates/tools/{tool}/package-lock.json", "rb").read(), tool
PY
    for f in "$tmp"/w*.yaml; do cloud-init schema --config-file "$f"; done ;;
  nomad)
    # In the clear on loopback only: nats-server has a tls block (and the controller verifies
    # it), the API serves its certificate.
    job="$ROOT/templates/nomad/autovibe-controller.nomad.hcl"
    for want in 'tls {' 'cert_file: ' 'key_file: ' 'nats = "tls://127.0.0.1:' 'nats_ca = ' \
      '"--tls-cert"' '"--tls-key"' 'protocol = "https"'; do
      grep -qF -- "$want" "$job" || { echo "check-deploy: the Nomad job lacks: $want" >&2; exit 1; }
    done
    if grep -n -- '--insecure-http\|listen: 0.0.0.0' "$job" | grep -v '{{ env "NOMAD_PORT_nats" }}'; then
      echo "check-deploy: the Nomad job listens in the clear beyond loopback (above)" >&2; exit 1
    fi
    terraform_or_skip
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp "$ROOT/templates/nomad/autovibe-controller.nomad.hcl" "$tmp/job.tf"
    terraform fmt -check -diff "$tmp/job.tf" ;;
  packer)
    need packer
    # The image's agent config (the package's) documents TLS to the bus.
    grep -q '^# nats_ca = "/etc/autovibe/nats-ca.pem"' "$ROOT/templates/config/agent.toml" ||
      { echo "check-deploy: templates/config/agent.toml does not document nats_ca" >&2; exit 1; }
    # packer validate wants the package it would copy to exist: a placeholder stands in when
    # ./scripts/package.sh has not made one (the template is checked, not the package).
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    touch "$tmp/autovibe-agent.deb"
    cd "$ROOT/packer"
    packer validate -var "debian_image_checksum=sha512:$(printf '0%.0s' $(seq 128))" \
      -var proxmox_password=placeholder -var agent_package="$tmp/autovibe-agent.deb" \
      worker.pkr.hcl ;;
  *)
    echo "usage: $0 cloud-init|terraform|terraform-user-data|nomad|packer|prometheus" >&2; exit 2 ;;
esac
