resource "azurerm_container_app_environment" "this" {
  name                       = local.names.container_app_environment
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  logs_destination           = "log-analytics"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  tags                       = local.tags
}

# Created only once the pipeline has pushed an image (image_digest != null): see README.md, first apply.
resource "azurerm_container_app" "this" {
  count = local.app_enabled ? 1 : 0

  name                         = local.names.container_app
  resource_group_name          = azurerm_resource_group.this.name
  container_app_environment_id = azurerm_container_app_environment.this.id
  revision_mode                = "Single"
  tags                         = local.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.this.id]
  }

  registry {
    server   = azurerm_container_registry.this.login_server
    identity = azurerm_user_assigned_identity.this.id
  }

  # Every secret is a versionless Key Vault reference read with the user-assigned identity; Container
  # Apps picks up a new secret version within ~30 minutes (or at the next revision).
  dynamic "secret" {
    for_each = local.secret_env
    content {
      name                = secret.key
      key_vault_secret_id = "${azurerm_key_vault.this.vault_uri}secrets/${secret.key}"
      identity            = azurerm_user_assigned_identity.this.id
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
      image   = local.image
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

  # The identity must hold its roles before the first revision pulls the image and resolves the Key
  # Vault references. Azure RBAC can lag minutes behind the assignment; see README.md.
  depends_on = [
    azurerm_role_assignment.key_vault_secrets_user,
    azurerm_role_assignment.acr_pull,
    azurerm_role_assignment.openai_user,
  ]

  lifecycle {
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
