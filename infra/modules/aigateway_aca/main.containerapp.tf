resource "azurerm_container_app_environment" "this" {
  name                       = local.names.container_app_environment
  location                   = local.location
  resource_group_name        = data.azurerm_resource_group.this.name
  logs_destination           = "log-analytics"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  tags                       = local.tags

  lifecycle {
    precondition {
      condition     = local.location_short != "unknown"
      error_message = "No short code for location ${var.location}: pass location_short."
    }
  }
}

# Exists from the first apply on, always running the image the pipeline passes (var.image, by digest).
# Single revision mode: a new revision takes traffic only once healthy, so a bad image leaves the old
# one serving (scripts/deploy.py verifies which one serves and rolls back). Never destroyed by Terraform:
# scripts/deploy.py refuses any plan that deletes or replaces it, and prevent_destroy stops the rest.
resource "azurerm_container_app" "this" {
  name                         = local.names.container_app
  resource_group_name          = data.azurerm_resource_group.this.name
  container_app_environment_id = azurerm_container_app_environment.this.id
  revision_mode                = "Single"
  tags                         = local.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [local.identity.id]
  }

  registry {
    server   = local.registry_server
    identity = local.identity.id
  }

  # Every secret is a versionless Key Vault reference read with the user-assigned identity; Container
  # Apps picks up a new secret version within ~30 minutes (or at the next revision).
  dynamic "secret" {
    for_each = local.secret_env
    content {
      name                = secret.key
      key_vault_secret_id = "${local.key_vault_uri}secrets/${secret.key}"
      identity            = local.identity.id
    }
  }

  ingress {
    external_enabled           = true
    target_port                = local.gateway_port
    transport                  = "auto"
    allow_insecure_connections = false

    traffic_weight {
      latest_revision = true
      percentage      = 100
    }

    dynamic "ip_security_restriction" {
      for_each = var.ingress_allowed_ip_ranges
      content {
        name             = "allow-${ip_security_restriction.key}"
        action           = "Allow"
        ip_address_range = ip_security_restriction.value
        description      = "Allowed client range ${ip_security_restriction.value}"
      }
    }
  }

  template {
    min_replicas = local.min_replicas
    max_replicas = var.max_replicas

    http_scale_rule {
      name                = "http-concurrency"
      concurrent_requests = tostring(var.http_concurrent_requests)
    }

    container {
      name    = "gateway"
      image   = var.image
      cpu     = var.container_cpu
      memory  = var.container_memory
      command = ["aigateway", "serve"]

      dynamic "env" {
        for_each = local.plain_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.secret_env
        content {
          name        = env.value
          secret_name = env.key
        }
      }

      # The gateway serves in ~1-2 s (LiteLLM, for chat only, loads after that in the background): probe
      # every second so a scaled-from-zero replica takes traffic at once; up to 1 + 60 x 1 = 61 s to start.
      startup_probe {
        transport               = "HTTP"
        port                    = local.gateway_port
        path                    = "/health/liveliness"
        initial_delay           = 1
        interval_seconds        = 1
        timeout                 = 3
        failure_count_threshold = 60
      }

      liveness_probe {
        transport               = "HTTP"
        port                    = local.gateway_port
        path                    = "/health/liveliness"
        interval_seconds        = 15
        timeout                 = 5
        failure_count_threshold = 3
      }

      readiness_probe {
        transport               = "HTTP"
        port                    = local.gateway_port
        path                    = "/health/readiness"
        interval_seconds        = 10
        timeout                 = 5
        failure_count_threshold = 3
        success_count_threshold = 1
      }
    }
  }

  lifecycle {
    prevent_destroy = true

    precondition {
      condition     = length(local.names.container_app) <= 32 && can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", local.names.container_app))
      error_message = "Container App name ${local.names.container_app} breaks Azure's rule (2-32 lower-case chars)."
    }
    precondition {
      condition     = local.min_replicas <= var.max_replicas
      error_message = "min_replicas must not exceed max_replicas."
    }
  }
}
