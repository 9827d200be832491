# The autovibe controller as a Nomad service job: one instance, its SQLite state on a host
# volume, its secrets from Nomad variables, health from /healthz. nats-server runs beside it
# in the same group, as the controller's bus. Nothing listens in the clear beyond loopback:
# nats-server speaks TLS only (agents verify it with its CA, nats_ca), and so does the API.
#   nomad var put nomad/jobs/autovibe-controller nats_password=... alert_webhook=https://... \
#     nats_ca_pem=@ca.pem nats_cert_pem=@nats.pem nats_key_pem=@nats.key \
#     api_cert_pem=@api.pem api_key_pem=@api.key
#   nomad job run templates/nomad/autovibe-controller.nomad.hcl
# nats.pem must name the host agents reach the bus at and 127.0.0.1 (the controller's way in),
# e.g. subjectAltName=DNS:bus.example.org,IP:127.0.0.1; README.md, "NATS over TLS", makes them.
variable "version" {
  type    = string
  default = "0.1.0"
}

variable "artifact_url" {
  description = "Where the release tarball (bin/autovibe-controller, share/autovibe/templates) is served."
  type        = string
  default     = "https://releases.example.com/autovibe/autovibe-0.1.0-linux-amd64.tar.gz"
}

variable "artifact_sha256" {
  type    = string
  default = "0000000000000000000000000000000000000000000000000000000000000000"
}

job "autovibe-controller" {
  type        = "service"
  datacenters = ["dc1"]

  group "controller" {
    # The controller owns its SQLite file: never two at once.
    count = 1

    # Cut off from the Nomad servers, its client stops it (the servers then place it
    # elsewhere): never two controllers at once.
    stop_after_client_disconnect = "30s"

    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "10s"
      healthy_deadline = "2m"
      auto_revert      = true
    }

    restart {
      attempts = 5
      interval = "10m"
      delay    = "10s"
      mode     = "delay"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = true
    }

    volume "state" {
      type      = "host"
      source    = "autovibe-state"
      read_only = false
    }

    network {
      port "api" {
        static = 8080
      }
      port "nats" {
        static = 4222
      }
    }

    service {
      name     = "autovibe-controller"
      port     = "api"
      provider = "nomad"

      check {
        type     = "http"
        protocol = "https"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
        # The API's certificate names the host clients use, not the address Nomad checks.
        tls_skip_verify = true
      }
    }

    task "nats" {
      driver = "exec"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      # The controller rewrites the users file as machines come and go; the first start gets
      # one with the controller's own user.
      config {
        command = "/bin/sh"
        args = ["-c", join(" ", [
          "[ -e /srv/autovibe/nats-users.conf ] || cp \"$NOMAD_SECRETS_DIR/nats-users.conf\" /srv/autovibe/;",
          "exec /usr/sbin/nats-server --config \"$NOMAD_TASK_DIR/nats.conf\"",
        ])]
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/nats-users.conf"
        perms       = "0600"
        data        = <<-EOT
          authorization {
            users: [
              {{ with nomadVar "nomad/jobs/autovibe-controller" }}{user: "controller", password: "{{ .nats_password }}"}{{ end }}
            ]
          }
        EOT
      }

      # The bus's certificate and key (TLS only: agents on other hosts reach it encrypted).
      # nats-server reloads them on SIGHUP when the variables change.
      template {
        destination   = "${NOMAD_SECRETS_DIR}/nats-server.pem"
        perms         = "0644"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = "{{ with nomadVar \"nomad/jobs/autovibe-controller\" }}{{ .nats_cert_pem }}{{ end }}"
      }

      template {
        destination   = "${NOMAD_SECRETS_DIR}/nats-server.key"
        perms         = "0600"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = "{{ with nomadVar \"nomad/jobs/autovibe-controller\" }}{{ .nats_key_pem }}{{ end }}"
      }

      template {
        destination = "${NOMAD_TASK_DIR}/nats.conf"
        data        = <<-EOT
          listen: 0.0.0.0:{{ env "NOMAD_PORT_nats" }}
          tls {
            cert_file: "{{ env "NOMAD_SECRETS_DIR" }}/nats-server.pem"
            key_file: "{{ env "NOMAD_SECRETS_DIR" }}/nats-server.key"
            timeout: 2
          }
          jetstream { store_dir: "/srv/autovibe/nats" }
          include "/srv/autovibe/nats-users.conf"
          pid_file: "/srv/autovibe/nats.pid"
        EOT
      }

      volume_mount {
        volume      = "state"
        destination = "/srv/autovibe"
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }

    task "controller" {
      driver = "exec"

      artifact {
        source      = var.artifact_url
        destination = "local/autovibe"
        options {
          checksum = "sha256:${var.artifact_sha256}"
        }
      }

      config {
        command = "local/autovibe/bin/autovibe-controller"
        args = ["--config", "${NOMAD_SECRETS_DIR}/controller.toml",
          "--tls-cert", "${NOMAD_SECRETS_DIR}/api.pem",
        "--tls-key", "${NOMAD_SECRETS_DIR}/api.key"]
      }

      # The CA that signed nats-server's certificate: the controller verifies the bus with it,
      # and hands it to the agents of the machines it provisions.
      template {
        destination = "${NOMAD_SECRETS_DIR}/nats-ca.pem"
        perms       = "0644"
        change_mode = "restart"
        data        = "{{ with nomadVar \"nomad/jobs/autovibe-controller\" }}{{ .nats_ca_pem }}{{ end }}"
      }

      # The API's certificate and key: it serves https only.
      template {
        destination = "${NOMAD_SECRETS_DIR}/api.pem"
        perms       = "0644"
        change_mode = "restart"
        data        = "{{ with nomadVar \"nomad/jobs/autovibe-controller\" }}{{ .api_cert_pem }}{{ end }}"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/api.key"
        perms       = "0600"
        change_mode = "restart"
        data        = "{{ with nomadVar \"nomad/jobs/autovibe-controller\" }}{{ .api_key_pem }}{{ end }}"
      }

      # Secrets come from Nomad variables and stay in the secrets dir.
      template {
        destination = "${NOMAD_SECRETS_DIR}/controller.toml"
        change_mode = "restart"
        perms       = "0600"
        data        = <<-EOT
          data_dir = "/srv/autovibe/controller"
          listen = "0.0.0.0:{{ env "NOMAD_PORT_api" }}"
          nats = "tls://127.0.0.1:{{ env "NOMAD_PORT_nats" }}"
          nats_ca = "{{ env "NOMAD_SECRETS_DIR" }}/nats-ca.pem"
          nats_auth_file = "/srv/autovibe/nats-users.conf"
          nats_pid_file = "/srv/autovibe/nats.pid"
          nats_user = "controller"
          {{ with nomadVar "nomad/jobs/autovibe-controller" }}
          nats_password = "{{ .nats_password }}"
          alert_webhook = "{{ .alert_webhook }}"
          {{ end }}
          backup_dir = "/srv/autovibe/backups"
          backup_every = "24h"
          backup_keep = 14
        EOT
      }

      volume_mount {
        volume      = "state"
        destination = "/srv/autovibe"
      }

      kill_timeout = "30s"

      resources {
        cpu    = 1000
        memory = 512
      }
    }
  }
}
