# Unit tests with a mocked azurerm provider (schema from the offline azurerm 5.10.0 build; nothing
# reaches Azure). Run: terraform init -backend=false && terraform test (see infra/README.md).

mock_provider "azurerm" {
  mock_resource "azurerm_key_vault" {
    defaults = {
      vault_uri = "https://kv.vault.azure.net/"
    }
  }
  mock_resource "azurerm_container_registry" {
    defaults = {
      login_server = "registry.azurecr.io"
    }
  }
  mock_resource "azurerm_user_assigned_identity" {
    defaults = {
      id           = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
      client_id    = "11111111-1111-1111-1111-111111111111"
      principal_id = "22222222-2222-2222-2222-222222222222"
    }
  }
  mock_resource "azurerm_container_app" {
    defaults = {
      ingress = { fqdn = "gateway.example.azurecontainerapps.io" }
    }
  }
}

variables {
  env                      = "dev"
  registry_name_suffix     = "k7q2"
  azure_openai_endpoint    = "https://pvc-dev-openai-san.openai.azure.com"
  azure_openai_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/openai"
  image_digest             = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  projects = {
    smoke    = {}
    roo-team = { rpm = 100 }
  }
}

# ---------------------------------------------------------------------------------------------------
# Naming: pvc-{env}-aigateway-{type}-{location} in all three environments, with Azure's rules.
# ---------------------------------------------------------------------------------------------------

run "names_dev" {
  command = plan

  assert {
    condition     = azurerm_resource_group.this.name == "pvc-dev-aigateway-rg-san"
    error_message = "dev resource group name"
  }
  assert {
    condition     = azurerm_key_vault.this.name == "pvc-dev-aigateway-kv-san" && length(azurerm_key_vault.this.name) == 24
    error_message = "dev Key Vault keeps the full form at exactly 24 characters"
  }
  assert {
    condition     = azurerm_container_registry.this.name == "pvcdevaigatewaycrsank7q2"
    error_message = "dev registry name is alphanumeric with the suffix"
  }
  assert {
    condition     = azurerm_container_app.this[0].name == "pvc-dev-aigateway-ca-san"
    error_message = "dev Container App name"
  }
  assert {
    condition     = azurerm_container_app_environment.this.name == "pvc-dev-aigateway-cae-san" && azurerm_log_analytics_workspace.this.name == "pvc-dev-aigateway-log-san" && azurerm_user_assigned_identity.this.name == "pvc-dev-aigateway-id-san"
    error_message = "dev environment, workspace and identity names"
  }
}

run "names_uat" {
  command = plan
  variables {
    env = "uat"
  }

  assert {
    condition     = azurerm_resource_group.this.name == "pvc-uat-aigateway-rg-san"
    error_message = "uat resource group name"
  }
  assert {
    condition     = azurerm_key_vault.this.name == "pvc-uat-aigateway-kv-san"
    error_message = "uat Key Vault keeps the full form (24 characters)"
  }
  assert {
    condition     = azurerm_container_registry.this.name == "pvcuataigatewaycrsank7q2"
    error_message = "uat registry name"
  }
  assert {
    condition     = azurerm_container_app.this[0].name == "pvc-uat-aigateway-ca-san"
    error_message = "uat Container App name"
  }
}

run "names_prod" {
  command = plan
  variables {
    env = "prod"
  }

  assert {
    condition     = azurerm_resource_group.this.name == "pvc-prod-aigateway-rg-san"
    error_message = "prod resource group name"
  }
  assert {
    condition     = azurerm_key_vault.this.name == "pvc-prod-aigw-kv-san"
    error_message = "prod Key Vault is shortened: the full form would be 25 characters"
  }
  assert {
    condition     = azurerm_container_registry.this.name == "pvcprodaigatewaycrsank7q2"
    error_message = "prod registry name"
  }
  assert {
    condition     = azurerm_container_app.this[0].name == "pvc-prod-aigateway-ca-san" && length(azurerm_container_app.this[0].name) <= 32
    error_message = "prod Container App name within 32 characters"
  }
  assert {
    condition     = alltrue([for n in values(output.names) : length(n) <= 90]) && length(output.names.key_vault) <= 24
    error_message = "every name within its limit"
  }
}

run "key_vault_length_rule_enforced" {
  command = plan
  variables {
    env            = "prod"
    org_prefix     = "pvcorg"
    workload_short = "aigwxy"
  }
  # pvcorg-prod-aigwxy-kv-san is 25 characters even shortened: the precondition must stop the plan.
  expect_failures = [azurerm_key_vault.this]
}

run "tags_on_everything" {
  command = plan
  variables {
    tags = { cost_centre = "ai-platform" }
  }

  assert {
    condition = alltrue([
      for t in [
        azurerm_resource_group.this.tags, azurerm_key_vault.this.tags, azurerm_container_registry.this.tags,
        azurerm_log_analytics_workspace.this.tags, azurerm_container_app_environment.this.tags,
        azurerm_container_app.this[0].tags, azurerm_user_assigned_identity.this.tags,
      ] : t.environment == "dev" && t.managed_by == "terraform" && t.cost_centre == "ai-platform"
    ])
    error_message = "default and extra tags on every resource"
  }
}

# ---------------------------------------------------------------------------------------------------
# Scaling, first apply, ingress, probes.
# ---------------------------------------------------------------------------------------------------

run "dev_scales_to_zero" {
  command = plan

  assert {
    condition     = azurerm_container_app.this[0].template[0].min_replicas == 0
    error_message = "dev scales to zero by default"
  }
  assert {
    condition     = azurerm_container_app.this[0].template[0].http_scale_rule[0].concurrent_requests == "30"
    error_message = "HTTP concurrency scale rule present"
  }
  assert {
    condition     = azurerm_container_app.this[0].template[0].container[0].cpu == 0.5 && azurerm_container_app.this[0].template[0].container[0].memory == "1Gi"
    error_message = "default size 0.5 vCPU / 1Gi"
  }
  assert {
    condition     = azurerm_key_vault.this.purge_protection_enabled == false
    error_message = "dev vault can be purged (recreated under the same name)"
  }
}

run "prod_keeps_one_replica" {
  command = plan
  variables {
    env = "prod"
  }

  assert {
    condition     = azurerm_container_app.this[0].template[0].min_replicas == 1
    error_message = "prod keeps one warm replica"
  }
  assert {
    condition     = azurerm_key_vault.this.purge_protection_enabled == true && azurerm_key_vault.this.rbac_authorization_enabled == true
    error_message = "prod vault: purge protection and RBAC mode"
  }
}

run "first_apply_without_image" {
  command = apply
  variables {
    image_digest = null
  }

  assert {
    condition     = length(azurerm_container_app.this) == 0 && output.gateway_url == null
    error_message = "no Container App (and no URL) before the first image exists"
  }
  assert {
    condition     = azurerm_container_registry.this.admin_enabled == false && azurerm_role_assignment.acr_pull.role_definition_name == "AcrPull"
    error_message = "registry, vault and roles exist on the first apply"
  }
  assert {
    condition     = azurerm_role_assignment.key_vault_secrets_user.role_definition_name == "Key Vault Secrets User"
    error_message = "identity can read the vault's secrets"
  }
}

run "ingress_https_only_with_allowlist" {
  command = apply
  variables {
    ingress_allowed_ip_ranges = ["203.0.113.0/24", "198.51.100.7/32"]
  }

  assert {
    condition     = azurerm_container_app.this[0].ingress[0].external_enabled == true && azurerm_container_app.this[0].ingress[0].allow_insecure_connections == false && azurerm_container_app.this[0].ingress[0].target_port == 4000
    error_message = "external ingress on 4000, HTTPS only"
  }
  assert {
    condition     = [for r in azurerm_container_app.this[0].ingress[0].ip_security_restriction : r.ip_address_range] == ["203.0.113.0/24", "198.51.100.7/32"]
    error_message = "one Allow rule per allowed range"
  }
  assert {
    condition     = alltrue([for r in azurerm_container_app.this[0].ingress[0].ip_security_restriction : r.action == "Allow"])
    error_message = "every rule uses the same action (Allow)"
  }
  assert {
    condition     = output.gateway_url == "https://gateway.example.azurecontainerapps.io"
    error_message = "gateway_url is https://<fqdn>"
  }
  assert {
    condition     = azurerm_container_app.this[0].template[0].container[0].image == "registry.azurecr.io/aigateway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    error_message = "image pinned by digest in the module's registry"
  }
}

run "ingress_open_without_allowlist" {
  command = plan

  assert {
    condition     = length(azurerm_container_app.this[0].ingress[0].ip_security_restriction) == 0
    error_message = "no restriction when no range is given"
  }
}

run "probes" {
  command = plan

  assert {
    condition     = azurerm_container_app.this[0].template[0].container[0].liveness_probe[0].path == "/health/liveliness" && azurerm_container_app.this[0].template[0].container[0].liveness_probe[0].port == 4000
    error_message = "liveness probe on /health/liveliness:4000"
  }
  assert {
    condition     = azurerm_container_app.this[0].template[0].container[0].readiness_probe[0].path == "/health/readiness" && azurerm_container_app.this[0].template[0].container[0].readiness_probe[0].port == 4000
    error_message = "readiness probe on /health/readiness:4000"
  }
  assert {
    condition = (
      azurerm_container_app.this[0].template[0].container[0].startup_probe[0].path == "/health/liveliness" &&
      azurerm_container_app.this[0].template[0].container[0].startup_probe[0].initial_delay +
      azurerm_container_app.this[0].template[0].container[0].startup_probe[0].interval_seconds *
      azurerm_container_app.this[0].template[0].container[0].startup_probe[0].failure_count_threshold >= 30 &&
      azurerm_container_app.this[0].template[0].container[0].startup_probe[0].interval_seconds <= 2
    )
    error_message = "startup probe allows at least 30 s to start, and probes at least every 2 s so a replica from zero serves at once"
  }
  assert {
    condition     = azurerm_container_app.this[0].template[0].container[0].command == tolist(["aigateway", "serve"])
    error_message = "start command is aigateway serve"
  }
}

# ---------------------------------------------------------------------------------------------------
# Secrets: every one a Key Vault reference through the user-assigned identity; none in plain env.
# ---------------------------------------------------------------------------------------------------

run "secrets_are_key_vault_references" {
  command = apply

  assert {
    condition     = toset([for s in azurerm_container_app.this[0].secret : s.name]) == toset(["gateway-key-smoke", "gateway-key-roo-team"])
    error_message = "one secret per project and nothing else (no Azure key in entra mode, no salt key)"
  }
  assert {
    condition = alltrue([
      for s in azurerm_container_app.this[0].secret :
      s.key_vault_secret_id == "https://kv.vault.azure.net/secrets/${s.name}" && s.identity == azurerm_user_assigned_identity.this.id && s.value == null
    ])
    error_message = "every secret is a versionless Key Vault reference read with the user-assigned identity, with no value"
  }
  assert {
    condition = {
      for e in azurerm_container_app.this[0].template[0].container[0].env : e.name => e.secret_name if e.secret_name != null
      } == {
      GATEWAY_KEY_SMOKE    = "gateway-key-smoke"
      GATEWAY_KEY_ROO_TEAM = "gateway-key-roo-team"
    }
    error_message = "secret env vars map to their Key Vault secrets (upper-case, - -> _)"
  }
  assert {
    condition = (
      !contains([for e in azurerm_container_app.this[0].template[0].container[0].env : e.name], "GATEWAY_SALT_KEY") &&
      !contains(keys(output.key_vault_secret_names), "gateway-salt-key")
    )
    error_message = "the retired salt key is neither injected nor expected in Key Vault (LiteLLM no longer mints response ids)"
  }
  assert {
    condition = alltrue([
      for e in azurerm_container_app.this[0].template[0].container[0].env :
      e.secret_name != null || !can(regex("(KEY|SECRET|SALT|PASSWORD|TOKEN)", e.name))
    ])
    error_message = "no secret-named variable carries a plain-text value"
  }
  assert {
    condition     = azurerm_container_app.this[0].identity[0].type == "UserAssigned" && contains(azurerm_container_app.this[0].identity[0].identity_ids, azurerm_user_assigned_identity.this.id)
    error_message = "the app runs with the user-assigned identity"
  }
  assert {
    condition     = azurerm_container_app.this[0].registry[0].identity == azurerm_user_assigned_identity.this.id
    error_message = "the image is pulled with the identity (no registry password)"
  }
}

run "gateway_settings_as_env" {
  command = apply

  assert {
    condition = {
      for e in azurerm_container_app.this[0].template[0].container[0].env : e.name => e.value if e.secret_name == null
      } == {
      AZURE_OPENAI_ENDPOINT               = "https://pvc-dev-openai-san.openai.azure.com"
      AZURE_OPENAI_AUTH                   = "entra"
      AZURE_CLIENT_ID                     = "11111111-1111-1111-1111-111111111111"
      AZURE_OPENAI_RESPONSES_API_VERSION  = "preview"
      AZURE_OPENAI_EMBEDDINGS_API_VERSION = "2024-10-21"
      GATEWAY_CODEX_MODEL                 = "gpt-5.3-codex"
      GATEWAY_CODEX_DEPLOYMENT            = "gpt-5.3-codex"
      GATEWAY_EMBEDDINGS_MODEL            = "text-embedding-3-small"
      GATEWAY_EMBEDDINGS_DEPLOYMENT       = "text-embedding-3-small"
      GATEWAY_HOST                        = "0.0.0.0"
      GATEWAY_PORT                        = "4000"
      GATEWAY_MAX_CONCURRENCY             = "64"
      GATEWAY_REDIS_URL                   = ""
      GATEWAY_KEEPALIVE_SECONDS           = "15"
      GATEWAY_PROJECT_LIMITS              = jsonencode({ roo-team = { embeddings_rpm = 120, max_parallel = 20, rpm = 100 }, smoke = { embeddings_rpm = 120, max_parallel = 20, rpm = 600 } })
      LITELLM_LOCAL_MODEL_COST_MAP        = "True"
    }
    error_message = "every gateway setting is a plain env var with the contract's name"
  }
  assert {
    condition     = length(azurerm_role_assignment.openai_user) == 1 && azurerm_role_assignment.openai_user[0].role_definition_name == "Cognitive Services OpenAI User"
    error_message = "keyless mode grants the identity Cognitive Services OpenAI User on the Azure OpenAI account"
  }
}

run "key_auth_mode" {
  command = apply
  variables {
    azure_openai_auth        = "key"
    azure_openai_resource_id = null
  }

  assert {
    condition     = contains([for s in azurerm_container_app.this[0].secret : s.name], "azure-openai-api-key")
    error_message = "key mode references the azure-openai-api-key secret"
  }
  assert {
    condition     = contains([for e in azurerm_container_app.this[0].template[0].container[0].env : e.name if e.secret_name == "azure-openai-api-key"], "AZURE_OPENAI_API_KEY")
    error_message = "AZURE_OPENAI_API_KEY comes from Key Vault"
  }
  assert {
    condition     = length(azurerm_role_assignment.openai_user) == 0 && !contains([for e in azurerm_container_app.this[0].template[0].container[0].env : e.name], "AZURE_CLIENT_ID")
    error_message = "no OpenAI role and no AZURE_CLIENT_ID in key mode"
  }
}

# ---------------------------------------------------------------------------------------------------
# Monitoring.
# ---------------------------------------------------------------------------------------------------

run "alerts_and_saved_queries" {
  command = plan
  variables {
    alert_email_addresses = ["oncall@example.com"]
  }

  assert {
    condition     = length(azurerm_monitor_scheduled_query_rules_alert_v2.this) == 3 && length(azurerm_log_analytics_saved_search.this) == 5
    error_message = "three alerts (5xx, upstream, 429) and five saved queries"
  }
  assert {
    condition     = alltrue([for a in azurerm_monitor_scheduled_query_rules_alert_v2.this : strcontains(a.criteria[0].query, "ContainerAppConsoleLogs_CL")])
    error_message = "alerts query the gateway's console lines"
  }
  assert {
    condition     = strcontains(azurerm_monitor_scheduled_query_rules_alert_v2.this["upstream_failures"].criteria[0].query, "error_source == \"azure\"")
    error_message = "the upstream alert counts error_source == azure"
  }
  assert {
    condition     = length(azurerm_monitor_action_group.this) == 1 && azurerm_monitor_action_group.this[0].email_receiver[0].email_address == "oncall@example.com"
    error_message = "action group mails the given address"
  }
  assert {
    condition     = azurerm_container_app_environment.this.logs_destination == "log-analytics"
    error_message = "environment logs go to the workspace"
  }
}

run "no_action_group_without_email" {
  command = plan

  assert {
    condition     = length(azurerm_monitor_action_group.this) == 0 && length(azurerm_application_insights.this) == 0
    error_message = "no action group (and no App Insights) unless asked for"
  }
}

# ---------------------------------------------------------------------------------------------------
# Input validation.
# ---------------------------------------------------------------------------------------------------

run "rejects_tag_instead_of_digest" {
  command = plan
  variables {
    image_digest = "latest"
  }
  expect_failures = [var.image_digest]
}

run "rejects_entra_without_resource_id" {
  command = plan
  variables {
    azure_openai_resource_id = null
  }
  expect_failures = [var.azure_openai_resource_id]
}

run "rejects_secret_in_extra_settings" {
  command = plan
  variables {
    gateway_extra_settings = { GATEWAY_KEYS = "x" }
  }
  expect_failures = [var.gateway_extra_settings]
}

run "rejects_bad_project_name" {
  command = plan
  variables {
    projects = { "Roo_Team" = {} }
  }
  expect_failures = [var.projects]
}

run "rejects_unbalanced_memory" {
  command = plan
  variables {
    container_memory = "4Gi"
  }
  expect_failures = [var.container_memory]
}

run "rejects_bad_allowlist" {
  command = plan
  variables {
    ingress_allowed_ip_ranges = ["not-a-cidr"]
  }
  expect_failures = [var.ingress_allowed_ip_ranges]
}
