locals {
  # Short region codes used in names. Extend when a new region is used, or pass location_short.
  location_codes = {
    southafricanorth = "san"
    southafricawest  = "saw"
    westeurope       = "weu"
    northeurope      = "neu"
    uksouth          = "uks"
    eastus           = "eus"
    eastus2          = "eus2"
    swedencentral    = "sdc"
  }
  location_short = coalesce(var.location_short, lookup(local.location_codes, var.location, "unknown"))

  # pvc-{env}-aigateway-{type}-{location}. The resource group, identity and Key Vault are the bootstrap's
  # (scripts/_az.py computes the same group and identity names); the Container App name has a 32-character
  # limit (precondition); everything else is far from its limit.
  name_base = "${var.org_prefix}-${var.env}-${var.workload}"
  names = {
    resource_group            = "${local.name_base}-rg-${local.location_short}"
    identity                  = "${local.name_base}-id-${local.location_short}"
    log_analytics             = "${local.name_base}-log-${local.location_short}"
    application_insights      = "${local.name_base}-appi-${local.location_short}"
    container_app_environment = "${local.name_base}-cae-${local.location_short}"
    container_app             = "${local.name_base}-ca-${local.location_short}"
    redis                     = "${local.name_base}-redis-${local.location_short}"
    action_group              = "${local.name_base}-ag-${local.location_short}"
    alert_server_errors       = "${local.name_base}-alert-5xx-${local.location_short}"
    alert_upstream_failures   = "${local.name_base}-alert-upstream-${local.location_short}"
    alert_throttled           = "${local.name_base}-alert-429-${local.location_short}"
    alert_latency             = "${local.name_base}-alert-latency-${local.location_short}"
    alert_ttfb                = "${local.name_base}-alert-ttfb-${local.location_short}"
    alert_replica_failures    = "${local.name_base}-alert-replicas-${local.location_short}"
    alert_availability        = "${local.name_base}-alert-availability-${local.location_short}"
    availability_test         = "${local.name_base}-avail-${local.location_short}"
    workbook                  = "${local.name_base}-wb-${local.location_short}"
    diagnostic_setting        = "${local.name_base}-diag-${local.location_short}"
  }

  tags = merge(
    {
      environment = var.env
      workload    = var.workload
      managed_by  = "terraform"
      module      = "aigateway_aca"
    },
    var.tags,
  )

  location              = data.azurerm_resource_group.this.location
  min_replicas          = coalesce(var.min_replicas, var.env == "prod" ? 1 : 0)
  shared_limits_enabled = coalesce(var.shared_limits_enabled, var.env == "prod")
  registry_server       = split("/", var.image)[0]
  key_vault_name        = one(data.azurerm_resources.key_vault.resources[*].name)
  key_vault_id          = one(data.azurerm_resources.key_vault.resources[*].id)
  key_vault_uri         = "https://${local.key_vault_name}.vault.azure.net/"
  identity              = data.azurerm_user_assigned_identity.this

  # The managed identity signs in to Azure OpenAI (keyless) and to Redis; AZURE_CLIENT_ID picks it.
  uses_entra = var.azure_openai_auth == "entra" || local.shared_limits_enabled

  # Secrets: Key Vault secret name -> container env var. Only references (versionless IDs) reach
  # Terraform; the values are written out of band by the secrets script and never enter state.
  secret_env = merge(
    var.azure_openai_auth == "key" ? { "azure-openai-api-key" = "AZURE_OPENAI_API_KEY" } : {},
    { for p in keys(var.projects) : "gateway-key-${p}" => "GATEWAY_KEY_${upper(replace(p, "-", "_"))}" },
  )

  # Plain settings: every one is non-secret (architecture.md, configuration contract).
  plain_env = merge(
    {
      AZURE_OPENAI_ENDPOINT               = trimsuffix(var.azure_openai_endpoint, "/")
      AZURE_OPENAI_AUTH                   = var.azure_openai_auth
      AZURE_OPENAI_RESPONSES_API_VERSION  = var.azure_openai_responses_api_version
      AZURE_OPENAI_EMBEDDINGS_API_VERSION = var.azure_openai_embeddings_api_version
      GATEWAY_CODEX_MODEL                 = var.codex_model
      GATEWAY_CODEX_DEPLOYMENT            = coalesce(var.codex_deployment, var.codex_model)
      GATEWAY_EMBEDDINGS_MODEL            = var.embeddings_model
      GATEWAY_EMBEDDINGS_DEPLOYMENT       = coalesce(var.embeddings_deployment, var.embeddings_model)
      GATEWAY_HOST                        = "0.0.0.0"
      GATEWAY_PORT                        = tostring(local.gateway_port)
      GATEWAY_MAX_CONCURRENCY             = tostring(var.gateway_max_concurrency)
      GATEWAY_REDIS_URL                   = local.redis_url
      GATEWAY_REDIS_AUTH                  = local.shared_limits_enabled ? "entra" : "none"
      GATEWAY_KEEPALIVE_SECONDS           = tostring(var.gateway_keepalive_seconds)
      GATEWAY_PROJECT_LIMITS              = jsonencode(var.projects)
      LITELLM_LOCAL_MODEL_COST_MAP        = "True"
    },
    local.uses_entra ? { AZURE_CLIENT_ID = local.identity.client_id } : {},
    var.gateway_extra_settings,
  )

  gateway_port = 4000

  # KQL shared with docs/operations.md (tests check that the two copies match).
  saved_queries = {
    request-counts      = { display_name = "Gateway: requests by project and model", file = "request-counts.kql" }
    latency-percentiles = { display_name = "Gateway: latency percentiles by route and model", file = "latency-percentiles.kql" }
    error-statuses      = { display_name = "Gateway: 4xx and 5xx by project, model and status", file = "error-statuses.kql" }
    throttled           = { display_name = "Gateway: 429s by project and model", file = "throttled.kql" }
    upstream-failures   = { display_name = "Gateway: upstream (Azure) failures by project and model", file = "upstream-failures.kql" }
    audit-openai-key    = { display_name = "Audit: who read the Azure OpenAI key (30 days)", file = "audit-openai-key-reads.kql" }
  }

  # Availability test: every 5 minutes in prod; every 15 elsewhere, so dev and uat can still scale to zero
  # between probes most of the time (docs/operations.md, "Availability test").
  readiness_url                 = "https://${azurerm_container_app.this.ingress[0].fqdn}/health/readiness"
  availability_test_frequency   = coalesce(var.availability_test_frequency, var.env == "prod" ? 300 : 900)
  availability_failed_locations = min(2, length(var.availability_test_locations))
}
