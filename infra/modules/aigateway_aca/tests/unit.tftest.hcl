# Unit tests with a mocked azurerm provider (schema from the offline azurerm 5.10.0 build; nothing
# reaches Azure). Run: terraform init -backend=false && terraform test (see infra/README.md).
# The whole deploy sequence against a stateful fake Azure is rehearsed in tests/infra/test_rehearsal.py.

mock_provider "azurerm" {
  # Mocked values already at plan time: every run plans, so nothing is ever applied or destroyed (the
  # Container App has prevent_destroy, which a test's clean-up would trip over).
  override_during = plan

  mock_data "azurerm_resource_group" {
    defaults = {
      id       = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/pvc-dev-aigateway-rg-san"
      location = "southafricanorth"
    }
  }
  mock_data "azurerm_user_assigned_identity" {
    defaults = {
      id           = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
      client_id    = "11111111-1111-1111-1111-111111111111"
      principal_id = "22222222-2222-2222-2222-222222222222"
    }
  }
  mock_data "azurerm_resources" {
    defaults = {
      resources = [{
        id                  = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/pvc-dev-aigw-kv-1a2b"
        name                = "pvc-dev-aigw-kv-1a2b"
        type                = "Microsoft.KeyVault/vaults"
        location            = "southafricanorth"
        resource_group_name = "pvc-dev-aigateway-rg-san"
        tags                = {}
      }]
    }
  }
  mock_resource "azurerm_container_app" {
    defaults = {
      ingress = { fqdn = "gateway.example.azurecontainerapps.io" }
    }
  }
  mock_resource "azurerm_log_analytics_workspace" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/log"
    }
  }
  mock_resource "azurerm_container_app_environment" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/cae"
    }
  }
  mock_resource "azurerm_application_insights" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Insights/components/appi"
    }
  }
  mock_resource "azurerm_application_insights_standard_web_test" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Insights/webTests/avail"
    }
  }
  mock_resource "azurerm_application_insights_workbook" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Insights/workbooks/00000000-0000-0000-0000-00000000000b"
    }
  }
  mock_resource "azurerm_monitor_action_group" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ag"
    }
  }
  mock_resource "azurerm_managed_redis" {
    defaults = {
      hostname         = "pvc-prod-aigateway-redis-san.southafricanorth.redis.azure.net"
      default_database = { port = 10000 }
    }
  }
}

variables {
  env                   = "dev"
  azure_openai_endpoint = "https://pvc-dev-openai-san.openai.azure.com"
  image                 = "pvcsharedaigatewaycrsan1a2b3c.azurecr.io/aigateway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  projects = {
    smoke    = {}
    roo-team = { rpm = 100 }
  }
  alert_email_addresses = ["oncall@example.com"]
}

# ---------------------------------------------------------------------------------------------------
# Naming: pvc-{env}-aigateway-{type}-{location} in all three environments, with Azure's rules.
# ---------------------------------------------------------------------------------------------------

run "names_dev" {
  command = plan

  assert {
    condition     = data.azurerm_resource_group.this.name == "pvc-dev-aigateway-rg-san" && data.azurerm_user_assigned_identity.this.name == "pvc-dev-aigateway-id-san"
    error_message = "dev looks up the bootstrap's resource group and identity by the shared naming rule"
  }
  assert {
    condition     = azurerm_container_app.this.name == "pvc-dev-aigateway-ca-san"
    error_message = "dev Container App name"
  }
  assert {
    condition     = azurerm_container_app_environment.this.name == "pvc-dev-aigateway-cae-san" && azurerm_log_analytics_workspace.this.name == "pvc-dev-aigateway-log-san"
    error_message = "dev environment and workspace names"
  }
}

run "names_prod" {
  command = plan
  variables {
    env = "prod"
  }

  assert {
    condition     = data.azurerm_resource_group.this.name == "pvc-prod-aigateway-rg-san"
    error_message = "prod resource group name"
  }
  assert {
    condition     = azurerm_container_app.this.name == "pvc-prod-aigateway-ca-san" && length(azurerm_container_app.this.name) <= 32
    error_message = "prod Container App name within 32 characters"
  }
  assert {
    condition     = alltrue([for n in values(output.names) : length(n) <= 60])
    error_message = "every name within its limit"
  }
}

run "tags_on_everything" {
  command = plan
  variables {
    tags = { cost_centre = "ai-platform" }
  }

  assert {
    condition = alltrue([
      for t in [
        azurerm_log_analytics_workspace.this.tags, azurerm_container_app_environment.this.tags, azurerm_container_app.this.tags,
      ] : t.environment == "dev" && t.managed_by == "terraform" && t.cost_centre == "ai-platform"
    ])
    error_message = "default and extra tags on every resource"
  }
}

run "key_vault_found_in_the_group" {
  command = plan
  override_data {
    target = data.azurerm_resources.key_vault
    values = { resources = [] }
  }
  # No vault yet (the bootstrap has not run): the plan stops with a message that says what to run.
  expect_failures = [data.azurerm_resources.key_vault]
}

# ---------------------------------------------------------------------------------------------------
# Scaling, image, ingress, probes.
# ---------------------------------------------------------------------------------------------------

run "dev_scales_to_zero" {
  command = plan

  assert {
    condition     = azurerm_container_app.this.template[0].min_replicas == 0
    error_message = "dev scales to zero by default"
  }
  assert {
    condition     = azurerm_container_app.this.template[0].http_scale_rule[0].concurrent_requests == "30"
    error_message = "HTTP concurrency scale rule present"
  }
  assert {
    condition     = azurerm_container_app.this.template[0].container[0].cpu == 0.5 && azurerm_container_app.this.template[0].container[0].memory == "1Gi"
    error_message = "default size 0.5 vCPU / 1Gi"
  }
  assert {
    condition     = length(azurerm_managed_redis.this) == 0
    error_message = "no Redis outside prod unless asked for"
  }
}

run "prod_keeps_one_replica" {
  command = plan
  variables {
    env = "prod"
  }

  assert {
    condition     = azurerm_container_app.this.template[0].min_replicas == 1
    error_message = "prod keeps one warm replica"
  }
  assert {
    condition     = azurerm_container_app.this.revision_mode == "Single"
    error_message = "single revision mode: a new revision serves only once healthy"
  }
}

run "image_from_the_shared_registry" {
  command = plan

  assert {
    condition     = azurerm_container_app.this.template[0].container[0].image == var.image
    error_message = "the app runs exactly the image passed, pinned by digest"
  }
  assert {
    condition     = azurerm_container_app.this.registry[0].server == "pvcsharedaigatewaycrsan1a2b3c.azurecr.io" && azurerm_container_app.this.registry[0].identity == data.azurerm_user_assigned_identity.this.id
    error_message = "the image's registry is pulled from with the app's identity (no password)"
  }
}

run "ingress_https_only_with_allowlist" {
  command = plan
  variables {
    ingress_allowed_ip_ranges = ["203.0.113.0/24", "198.51.100.7/32"]
  }

  assert {
    condition     = azurerm_container_app.this.ingress[0].external_enabled == true && azurerm_container_app.this.ingress[0].allow_insecure_connections == false && azurerm_container_app.this.ingress[0].target_port == 4000
    error_message = "external ingress on 4000, HTTPS only"
  }
  assert {
    condition     = [for r in azurerm_container_app.this.ingress[0].ip_security_restriction : r.ip_address_range] == ["203.0.113.0/24", "198.51.100.7/32"]
    error_message = "one Allow rule per allowed range"
  }
  assert {
    condition     = alltrue([for r in azurerm_container_app.this.ingress[0].ip_security_restriction : r.action == "Allow"])
    error_message = "every rule uses the same action (Allow)"
  }
  assert {
    condition     = output.gateway_url == "https://gateway.example.azurecontainerapps.io"
    error_message = "gateway_url is https://<fqdn>"
  }
}

run "ingress_open_without_allowlist" {
  command = plan

  assert {
    condition     = length(azurerm_container_app.this.ingress[0].ip_security_restriction) == 0
    error_message = "no restriction when no range is given"
  }
}

run "probes" {
  command = plan

  assert {
    condition     = azurerm_container_app.this.template[0].container[0].liveness_probe[0].path == "/health/liveliness" && azurerm_container_app.this.template[0].container[0].liveness_probe[0].port == 4000
    error_message = "liveness probe on /health/liveliness:4000"
  }
  assert {
    condition     = azurerm_container_app.this.template[0].container[0].readiness_probe[0].path == "/health/readiness" && azurerm_container_app.this.template[0].container[0].readiness_probe[0].port == 4000
    error_message = "readiness probe on /health/readiness:4000"
  }
  assert {
    condition = (
      azurerm_container_app.this.template[0].container[0].startup_probe[0].path == "/health/liveliness" &&
      azurerm_container_app.this.template[0].container[0].startup_probe[0].initial_delay +
      azurerm_container_app.this.template[0].container[0].startup_probe[0].interval_seconds *
      azurerm_container_app.this.template[0].container[0].startup_probe[0].failure_count_threshold >= 30 &&
      azurerm_container_app.this.template[0].container[0].startup_probe[0].interval_seconds <= 2
    )
    error_message = "startup probe allows at least 30 s to start, and probes at least every 2 s so a replica from zero serves at once"
  }
  assert {
    condition     = azurerm_container_app.this.template[0].container[0].command == tolist(["aigateway", "serve"])
    error_message = "start command is aigateway serve"
  }
}

# ---------------------------------------------------------------------------------------------------
# Secrets: every one a Key Vault reference through the user-assigned identity; none in plain env.
# ---------------------------------------------------------------------------------------------------

run "secrets_are_key_vault_references" {
  command = plan

  assert {
    condition     = toset([for s in azurerm_container_app.this.secret : s.name]) == toset(["gateway-key-smoke", "gateway-key-roo-team"])
    error_message = "one secret per project and nothing else (no Azure key in entra mode, no salt key)"
  }
  assert {
    condition = alltrue([
      for s in azurerm_container_app.this.secret :
      s.key_vault_secret_id == "https://pvc-dev-aigw-kv-1a2b.vault.azure.net/secrets/${s.name}" && s.identity == data.azurerm_user_assigned_identity.this.id && s.value == null
    ])
    error_message = "every secret is a versionless Key Vault reference read with the user-assigned identity, with no value"
  }
  assert {
    condition = {
      for e in azurerm_container_app.this.template[0].container[0].env : e.name => e.secret_name if e.secret_name != null
      } == {
      GATEWAY_KEY_SMOKE    = "gateway-key-smoke"
      GATEWAY_KEY_ROO_TEAM = "gateway-key-roo-team"
    }
    error_message = "secret env vars map to their Key Vault secrets (upper-case, - -> _)"
  }
  assert {
    condition = (
      !contains([for e in azurerm_container_app.this.template[0].container[0].env : e.name], "GATEWAY_SALT_KEY") &&
      !contains(keys(output.key_vault_secret_names), "gateway-salt-key")
    )
    error_message = "the retired salt key is neither injected nor expected in Key Vault (LiteLLM no longer mints response ids)"
  }
  assert {
    condition = alltrue([
      for e in azurerm_container_app.this.template[0].container[0].env :
      e.secret_name != null || !can(regex("(KEY|SECRET|SALT|PASSWORD|TOKEN)", e.name))
    ])
    error_message = "no secret-named variable carries a plain-text value"
  }
  assert {
    condition     = azurerm_container_app.this.identity[0].type == "UserAssigned" && contains(azurerm_container_app.this.identity[0].identity_ids, data.azurerm_user_assigned_identity.this.id)
    error_message = "the app runs with the user-assigned identity"
  }
}

run "gateway_settings_as_env" {
  command = plan

  assert {
    condition = {
      for e in azurerm_container_app.this.template[0].container[0].env : e.name => e.value if e.secret_name == null
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
      GATEWAY_REDIS_AUTH                  = "none"
      GATEWAY_KEEPALIVE_SECONDS           = "15"
      GATEWAY_PROJECT_LIMITS              = jsonencode({ roo-team = { embeddings_rpm = 120, max_parallel = 20, rpm = 100 }, smoke = { embeddings_rpm = 120, max_parallel = 20, rpm = 600 } })
      LITELLM_LOCAL_MODEL_COST_MAP        = "True"
    }
    error_message = "every gateway setting is a plain env var with the contract's name"
  }
}

run "key_auth_mode" {
  command = plan
  variables {
    azure_openai_auth = "key"
  }

  assert {
    condition     = contains([for s in azurerm_container_app.this.secret : s.name], "azure-openai-api-key")
    error_message = "key mode references the azure-openai-api-key secret"
  }
  assert {
    condition     = contains([for e in azurerm_container_app.this.template[0].container[0].env : e.name if e.secret_name == "azure-openai-api-key"], "AZURE_OPENAI_API_KEY")
    error_message = "AZURE_OPENAI_API_KEY comes from Key Vault"
  }
  assert {
    condition     = !contains([for e in azurerm_container_app.this.template[0].container[0].env : e.name], "AZURE_CLIENT_ID")
    error_message = "no AZURE_CLIENT_ID in key mode without shared limits (no Entra sign-in at all)"
  }
}

# ---------------------------------------------------------------------------------------------------
# Shared limits: Managed Redis with Entra ID only, its URL injected, no key anywhere.
# ---------------------------------------------------------------------------------------------------

run "shared_limits_on_in_prod" {
  command = plan
  variables {
    env = "prod"
  }

  assert {
    condition     = length(azurerm_managed_redis.this) == 1 && azurerm_managed_redis.this[0].default_database[0].access_keys_authentication_enabled == false
    error_message = "prod gets a Managed Redis with access keys turned off"
  }
  assert {
    condition     = azurerm_managed_redis_access_policy_assignment.gateway[0].object_id == "22222222-2222-2222-2222-222222222222"
    error_message = "the app's identity holds the data access policy"
  }
  assert {
    condition = {
      for e in azurerm_container_app.this.template[0].container[0].env : e.name => e.value if startswith(e.name, "GATEWAY_REDIS") || e.name == "AZURE_CLIENT_ID"
      } == {
      GATEWAY_REDIS_URL  = "rediss://pvc-prod-aigateway-redis-san.southafricanorth.redis.azure.net:10000"
      GATEWAY_REDIS_AUTH = "entra"
      AZURE_CLIENT_ID    = "11111111-1111-1111-1111-111111111111"
    }
    error_message = "the gateway gets the TLS URL, Entra auth and the identity to sign in with"
  }
  assert {
    condition     = !anytrue([for e in azurerm_container_app.this.template[0].container[0].env : can(regex("(?i)password|access_key", coalesce(e.value, "")))])
    error_message = "no Redis key or password in the environment"
  }
}

run "shared_limits_with_key_auth_still_sets_client_id" {
  command = plan
  variables {
    shared_limits_enabled = true
    azure_openai_auth     = "key"
  }

  assert {
    condition     = contains([for e in azurerm_container_app.this.template[0].container[0].env : e.name], "AZURE_CLIENT_ID")
    error_message = "Redis sign-in needs the identity even when Azure OpenAI uses a key"
  }
}

# ---------------------------------------------------------------------------------------------------
# Monitoring.
# ---------------------------------------------------------------------------------------------------

run "alerts_and_saved_queries" {
  command = plan

  assert {
    condition     = length(azurerm_monitor_scheduled_query_rules_alert_v2.this) == 6 && length(azurerm_log_analytics_saved_search.this) == 6
    error_message = "six log alerts (5xx, upstream, 429, latency, TTFB, replica failures) and six saved queries"
  }
  assert {
    condition = alltrue([
      for k, a in azurerm_monitor_scheduled_query_rules_alert_v2.this :
      strcontains(a.criteria[0].query, k == "replica_failures" ? "ContainerAppSystemLogs_CL" : "ContainerAppConsoleLogs_CL")
    ])
    error_message = "request alerts query the gateway's console lines, the replica alert the system logs"
  }
  assert {
    condition     = strcontains(azurerm_monitor_scheduled_query_rules_alert_v2.this["upstream_failures"].criteria[0].query, "error_source == \"azure\"")
    error_message = "the upstream alert counts error_source == azure"
  }
  assert {
    condition = alltrue([
      strcontains(azurerm_monitor_scheduled_query_rules_alert_v2.this["server_errors"].criteria[0].query, "where server_errors >= 3"),
      strcontains(azurerm_monitor_scheduled_query_rules_alert_v2.this["upstream_failures"].criteria[0].query, "where upstream_failures >= 3"),
      strcontains(azurerm_monitor_scheduled_query_rules_alert_v2.this["latency"].criteria[0].query, "tobool(r.stream) == false"),
      strcontains(azurerm_monitor_scheduled_query_rules_alert_v2.this["ttfb"].criteria[0].query, "tobool(r.stream) == true"),
    ])
    error_message = "ratio alerts need a minimum count of failures (not of requests); latency is non-streaming, TTFB streaming"
  }
  assert {
    condition = {
      for k, a in azurerm_monitor_scheduled_query_rules_alert_v2.this : k => a.criteria[0].threshold
      } == {
      server_errors = 10, upstream_failures = 10, throttled = 25, latency = 30000, ttfb = 10000, replica_failures = 0
    }
    error_message = "default thresholds (docs/operations.md justifies them)"
  }
  assert {
    condition     = azurerm_monitor_action_group.this.email_receiver[0].email_address == "oncall@example.com"
    error_message = "action group mails the given address"
  }
  assert {
    condition     = azurerm_container_app_environment.this.logs_destination == "log-analytics"
    error_message = "environment logs go to the workspace"
  }
}

run "thresholds_are_variables" {
  command = plan
  variables {
    alert_thresholds = { server_error_percent = 20, latency_p95_ms = 45000 }
  }

  assert {
    condition     = azurerm_monitor_scheduled_query_rules_alert_v2.this["server_errors"].criteria[0].threshold == 20 && azurerm_monitor_scheduled_query_rules_alert_v2.this["latency"].criteria[0].threshold == 45000 && azurerm_monitor_scheduled_query_rules_alert_v2.this["ttfb"].criteria[0].threshold == 10000
    error_message = "given thresholds apply, the others keep their defaults"
  }
}

# For each environment, with that environment's terraform.tfvars values that matter here: the dashboard, every
# alert wired to the action group, the availability test and the diagnostic settings.
run "monitoring_dev" {
  command = plan
  variables {
    env                   = "dev"
    alert_email_addresses = []
  }
  # dev may run without receivers, but every plan warns (check alert_receivers).
  expect_failures = [check.alert_receivers]

  assert {
    condition     = azurerm_application_insights_workbook.this.display_name == "PVC AI Gateway (dev)" && azurerm_application_insights_workbook.this.source_id == lower(azurerm_log_analytics_workspace.this.id)
    error_message = "dev has its workbook over its workspace"
  }
  assert {
    condition     = alltrue([for t in local.workbook_tiles : strcontains(azurerm_application_insights_workbook.this.data_json, jsonencode(file("queries/${t.file}")))])
    error_message = "every workbook tile runs its query file verbatim"
  }
  assert {
    condition     = length(azurerm_monitor_action_group.this.email_receiver) == 0
    error_message = "dev's action group exists even without receivers"
  }
  assert {
    condition     = alltrue([for a in azurerm_monitor_scheduled_query_rules_alert_v2.this : a.action[0].action_groups == tolist([azurerm_monitor_action_group.this.id])]) && [for x in azurerm_monitor_metric_alert.availability.action : x.action_group_id] == [azurerm_monitor_action_group.this.id]
    error_message = "every dev alert notifies the action group"
  }
  assert {
    condition     = azurerm_application_insights_standard_web_test.readiness.request[0].url == "https://gateway.example.azurecontainerapps.io/health/readiness" && azurerm_application_insights_standard_web_test.readiness.frequency == 900
    error_message = "dev probes /health/readiness every 15 minutes"
  }
  assert {
    condition     = azurerm_monitor_diagnostic_setting.key_vault.target_resource_id == local.key_vault_id && [for l in azurerm_monitor_diagnostic_setting.key_vault.enabled_log : l.category] == ["AuditEvent"]
    error_message = "dev audits Key Vault reads"
  }
  assert {
    condition     = azurerm_monitor_diagnostic_setting.container_app_environment.target_resource_id == azurerm_container_app_environment.this.id && azurerm_monitor_diagnostic_setting.container_app_environment.log_analytics_workspace_id == azurerm_log_analytics_workspace.this.id
    error_message = "dev's Container Apps environment sends its system logs to the workspace"
  }
  assert {
    condition     = startswith(output.workbook_url, "https://portal.azure.com/#resource/") && endswith(output.workbook_url, "/workbook")
    error_message = "the workbook's portal URL is an output"
  }
}

run "monitoring_uat" {
  command = plan
  variables {
    env                   = "uat"
    alert_email_addresses = ["aigateway-oncall@example.com"]
  }

  assert {
    condition     = azurerm_application_insights_workbook.this.display_name == "PVC AI Gateway (uat)"
    error_message = "uat has its workbook"
  }
  assert {
    condition     = [for r in azurerm_monitor_action_group.this.email_receiver : r.email_address] == ["aigateway-oncall@example.com"]
    error_message = "uat's action group mails the on-call list"
  }
  assert {
    condition     = length(azurerm_monitor_scheduled_query_rules_alert_v2.this) == 6 && alltrue([for a in azurerm_monitor_scheduled_query_rules_alert_v2.this : a.action[0].action_groups == tolist([azurerm_monitor_action_group.this.id])]) && [for x in azurerm_monitor_metric_alert.availability.action : x.action_group_id] == [azurerm_monitor_action_group.this.id]
    error_message = "every uat alert notifies the action group"
  }
  assert {
    condition     = one(azurerm_monitor_metric_alert.availability.application_insights_web_test_location_availability_criteria[*].failed_location_count) == 2 && length(azurerm_application_insights_standard_web_test.readiness.geo_locations) == 3
    error_message = "uat's availability alert fires when 2 of 3 locations fail"
  }
  assert {
    condition     = azurerm_monitor_diagnostic_setting.key_vault.name == "pvc-uat-aigateway-diag-san" && azurerm_monitor_diagnostic_setting.container_app_environment.name == "pvc-uat-aigateway-diag-san"
    error_message = "uat has both diagnostic settings"
  }
}

run "monitoring_prod" {
  command = plan
  variables {
    env                   = "prod"
    alert_email_addresses = ["aigateway-oncall@example.com"]
  }

  assert {
    condition     = azurerm_application_insights_workbook.this.display_name == "PVC AI Gateway (prod)" && azurerm_application_insights_workbook.this.name == uuidv5("url", "https://aigateway.pvc/pvc-prod-aigateway-wb-san")
    error_message = "prod has its workbook, named by a stable GUID"
  }
  assert {
    condition     = alltrue([for a in azurerm_monitor_scheduled_query_rules_alert_v2.this : a.action[0].action_groups == tolist([azurerm_monitor_action_group.this.id])]) && [for x in azurerm_monitor_metric_alert.availability.action : x.action_group_id] == [azurerm_monitor_action_group.this.id]
    error_message = "every prod alert notifies the action group"
  }
  assert {
    condition     = azurerm_application_insights_standard_web_test.readiness.frequency == 300 && azurerm_application_insights_standard_web_test.readiness.application_insights_id == azurerm_application_insights.this.id && azurerm_application_insights_standard_web_test.readiness.validation_rules[0].expected_status_code == 200
    error_message = "prod probes /health/readiness every 5 minutes and expects 200"
  }
  assert {
    condition     = azurerm_monitor_diagnostic_setting.key_vault.log_analytics_workspace_id == azurerm_log_analytics_workspace.this.id && azurerm_monitor_diagnostic_setting.container_app_environment.target_resource_id == azurerm_container_app_environment.this.id
    error_message = "prod has both diagnostic settings into its workspace"
  }
}

run "uat_and_prod_refuse_an_empty_receiver_list" {
  command = plan
  variables {
    env                   = "uat"
    alert_email_addresses = []
  }
  expect_failures = [var.alert_email_addresses]
}

# ---------------------------------------------------------------------------------------------------
# Input validation.
# ---------------------------------------------------------------------------------------------------

run "rejects_tag_instead_of_digest" {
  command = plan
  variables {
    image = "pvcsharedaigatewaycrsan1a2b3c.azurecr.io/aigateway:latest"
  }
  expect_failures = [var.image]
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
