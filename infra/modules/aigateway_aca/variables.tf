# ---------------------------------------------------------------------------------------------------
# Naming and placement
# ---------------------------------------------------------------------------------------------------

variable "env" {
  type        = string
  description = "Environment name: dev, uat or prod. Drives names, tags and the replica and shared-limits defaults."
  nullable    = false

  validation {
    condition     = contains(["dev", "uat", "prod"], var.env)
    error_message = "env must be one of dev, uat, prod."
  }
}

variable "location" {
  type        = string
  description = "Azure region of every resource, e.g. southafricanorth."
  default     = "southafricanorth"
  nullable    = false
}

variable "location_short" {
  type        = string
  description = "Short region code used in names (san = southafricanorth). null = look it up in the module's table of known regions."
  default     = null

  validation {
    condition     = var.location_short == null || can(regex("^[a-z]{2,4}$", var.location_short))
    error_message = "location_short must be 2-4 lower-case letters."
  }
}

variable "org_prefix" {
  type        = string
  description = "Organisation prefix, the first segment of every name (pvc-{env}-aigateway-{type}-{location})."
  default     = "pvc"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,5}$", var.org_prefix))
    error_message = "org_prefix must be 2-6 lower-case letters/digits starting with a letter."
  }
}

variable "workload" {
  type        = string
  description = "Workload segment of every name."
  default     = "aigateway"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.workload))
    error_message = "workload must be 2-12 lower-case letters/digits starting with a letter."
  }
}

variable "workload_short" {
  type        = string
  description = "Abbreviated workload, kept for names with tight length rules (the Key Vault, made by the bootstrap, uses it)."
  default     = "aigw"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,5}$", var.workload_short))
    error_message = "workload_short must be 2-6 lower-case letters/digits starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags merged over the module's default tags (environment, workload, managed_by) on every resource."
  default     = {}
  nullable    = false
}

# ---------------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------------

variable "log_analytics_retention_days" {
  type        = number
  description = "Log Analytics retention in days (30-730; 30 is included in the ingestion price)."
  default     = 30
  nullable    = false

  validation {
    condition     = var.log_analytics_retention_days >= 30 && var.log_analytics_retention_days <= 730
    error_message = "log_analytics_retention_days must be between 30 and 730."
  }
}

variable "log_analytics_daily_quota_gb" {
  type        = number
  description = "Daily ingestion cap of the Log Analytics workspace in GB; -1 = no cap. Ingestion stops for the rest of the day once reached."
  default     = -1
  nullable    = false

  validation {
    condition     = var.log_analytics_daily_quota_gb == -1 || var.log_analytics_daily_quota_gb >= 0.023
    error_message = "log_analytics_daily_quota_gb must be -1 (no cap) or at least 0.023."
  }
}

variable "alert_email_addresses" {
  type        = list(string)
  description = "E-mail receivers of the environment's action group, which every alert notifies. Required in uat and prod; empty is allowed in dev only, and every dev plan then warns (check alert_receivers) that alerts notify nobody."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for a in var.alert_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "alert_email_addresses must be e-mail addresses."
  }

  validation {
    condition     = var.env == "dev" || length(var.alert_email_addresses) > 0
    error_message = "alert_email_addresses may be empty in dev only: uat and prod alerts must reach someone."
  }
}

variable "alert_thresholds" {
  type = object({
    server_error_percent     = optional(number, 10)
    upstream_failure_percent = optional(number, 10)
    throttled_percent        = optional(number, 25)
    latency_p95_ms           = optional(number, 30000)
    ttfb_p95_ms              = optional(number, 10000)
    replica_failure_events   = optional(number, 0)
  })
  description = <<-EOT
    Alert thresholds (why these defaults: docs/operations.md, "Alerts"). Request alerts are evaluated every 5
    minutes over 30 minutes; the minimum counts are in the query files, so a lone failure never pages:
    - server_error_percent (default 10): share of requests answered 5xx, in percent (with at least 3 5xx).
    - upstream_failure_percent (default 10): share of requests that failed because of Azure OpenAI
      (error_source == "azure"), in percent (with at least 3 such failures).
    - throttled_percent (default 25): share of requests answered 429, in percent (with at least 10 429s).
    - latency_p95_ms (default 30000): p95 latency of successful non-streaming requests on any route (with at least 5).
    - ttfb_p95_ms (default 10000): p95 time to first byte of successful streams on any route (with at least 5).
    - replica_failure_events (default 0): crash, back-off, unhealthy or provisioning-failure events in
      ContainerAppSystemLogs_CL in 15 minutes; 0 = alert on the first one.
  EOT
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for v in [var.alert_thresholds.server_error_percent, var.alert_thresholds.upstream_failure_percent, var.alert_thresholds.throttled_percent] :
      v >= 0 && v < 100
    ])
    error_message = "alert_thresholds percentages must be between 0 and 100."
  }
}

variable "availability_test_locations" {
  type        = list(string)
  description = "App Insights availability test locations (location IDs) probing /health/readiness. Default: the three nearest to South African users that Azure offers (West Europe, France Central, UK South; Azure has no test location in Africa). The alert fires when 2 of them fail (1 if only one is given)."
  default     = ["emea-nl-ams-azr", "emea-fr-pra-edge", "emea-ru-msa-edge"]
  nullable    = false

  validation {
    condition     = length(var.availability_test_locations) >= 1 && length(var.availability_test_locations) <= 16
    error_message = "availability_test_locations must name 1 to 16 locations."
  }
}

variable "availability_test_frequency" {
  type        = number
  description = "Seconds between availability probes from each location (300, 600 or 900). null = 300 in prod, 900 in dev and uat (each probe wakes a scaled-to-zero app)."
  default     = null

  validation {
    condition     = var.availability_test_frequency == null ? true : contains([300, 600, 900], var.availability_test_frequency)
    error_message = "availability_test_frequency must be 300, 600 or 900."
  }
}

# ---------------------------------------------------------------------------------------------------
# Container App
# ---------------------------------------------------------------------------------------------------

variable "image" {
  type        = string
  description = "Gateway image pinned by digest, <registry>/<repository>@sha256:<64 hex>, from the shared registry the bootstrap created (the pipeline builds it once and passes the same reference to every environment). The app pulls it with its identity (AcrPull, granted by the bootstrap)."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*(:[0-9]+)?/[a-z0-9]+([._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be <registry>/<repository>@sha256:<64 lower-case hex>: pinned by digest, never a tag."
  }
}

variable "container_cpu" {
  type        = number
  description = "vCPU per replica (Consumption plan: 0.25-4 in steps of 0.25)."
  default     = 0.5
  nullable    = false

  validation {
    condition     = var.container_cpu >= 0.25 && var.container_cpu <= 4 && floor(var.container_cpu * 4) == var.container_cpu * 4
    error_message = "container_cpu must be 0.25-4 in steps of 0.25."
  }
}

variable "container_memory" {
  type        = string
  description = "Memory per replica; the Consumption plan requires 2 GiB per vCPU (0.5 vCPU -> 1Gi)."
  default     = "1Gi"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?Gi$", var.container_memory))
    error_message = "container_memory must look like 1Gi or 0.5Gi."
  }

  validation {
    condition     = tonumber(trimsuffix(var.container_memory, "Gi")) == var.container_cpu * 2
    error_message = "container_memory must be 2Gi per vCPU (Consumption plan), e.g. 0.5 vCPU -> 1Gi."
  }
}

variable "min_replicas" {
  type        = number
  description = "Minimum replicas. null = 0 (scale to zero) in dev and uat, 1 in prod (no cold start for users)."
  default     = null

  validation {
    condition     = var.min_replicas == null ? true : var.min_replicas >= 0 && var.min_replicas <= 30
    error_message = "min_replicas must be between 0 and 30."
  }
}

variable "max_replicas" {
  type        = number
  description = "Maximum replicas (the HTTP concurrency rule scales between min and max)."
  default     = 3
  nullable    = false

  validation {
    condition     = var.max_replicas >= 1 && var.max_replicas <= 30
    error_message = "max_replicas must be between 1 and 30."
  }
}

variable "http_concurrent_requests" {
  type        = number
  description = "Concurrent HTTP requests per replica before Container Apps adds a replica. Below GATEWAY_MAX_CONCURRENCY so scaling starts before requests queue."
  default     = 30
  nullable    = false

  validation {
    condition     = var.http_concurrent_requests >= 1 && floor(var.http_concurrent_requests) == var.http_concurrent_requests
    error_message = "http_concurrent_requests must be a positive integer."
  }
}

variable "ingress_allowed_ip_ranges" {
  type        = list(string)
  description = "CIDR ranges allowed to reach the gateway. Empty = open to the internet (every request still needs a project key)."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for r in var.ingress_allowed_ip_ranges : can(cidrhost(r, 0))])
    error_message = "ingress_allowed_ip_ranges must be CIDR ranges such as 203.0.113.0/24."
  }
}

# ---------------------------------------------------------------------------------------------------
# Gateway settings (environment variables of the container; see docs/architecture.md)
# ---------------------------------------------------------------------------------------------------

variable "azure_openai_endpoint" {
  type        = string
  description = "Azure OpenAI endpoint, https://<resource>.openai.azure.com (AZURE_OPENAI_ENDPOINT). Required: the gateway refuses to start without it when project keys are configured (it never falls back to the embedded emulator in Azure)."
  nullable    = false

  validation {
    condition     = can(regex("^https://[a-z0-9.-]+/?$", var.azure_openai_endpoint))
    error_message = "azure_openai_endpoint must be an https:// URL with no path."
  }
}

variable "azure_openai_auth" {
  type        = string
  description = "How the gateway authenticates to Azure OpenAI: entra (default; the app's identity holds Cognitive Services OpenAI User on the account, granted by scripts/bootstrap_env.py --openai-resource-id; no key exists anywhere) or key (Key Vault secret azure-openai-api-key)."
  default     = "entra"
  nullable    = false

  validation {
    condition     = contains(["entra", "key"], var.azure_openai_auth)
    error_message = "azure_openai_auth must be entra or key."
  }
}

variable "azure_openai_responses_api_version" {
  type        = string
  description = "AZURE_OPENAI_RESPONSES_API_VERSION: preview/v1 (v1 path) or a dated api-version."
  default     = "preview"
  nullable    = false
}

variable "azure_openai_embeddings_api_version" {
  type        = string
  description = "AZURE_OPENAI_EMBEDDINGS_API_VERSION: api-version of the embeddings call."
  default     = "2024-10-21"
  nullable    = false
}

variable "codex_model" {
  type        = string
  description = "GATEWAY_CODEX_MODEL: alias clients use for the codex model."
  default     = "gpt-5.3-codex"
  nullable    = false
}

variable "codex_deployment" {
  type        = string
  description = "GATEWAY_CODEX_DEPLOYMENT: Azure deployment behind the codex alias. null = same as codex_model."
  default     = null
}

variable "embeddings_model" {
  type        = string
  description = "GATEWAY_EMBEDDINGS_MODEL: alias for embeddings."
  default     = "text-embedding-3-small"
  nullable    = false
}

variable "embeddings_deployment" {
  type        = string
  description = "GATEWAY_EMBEDDINGS_DEPLOYMENT: Azure deployment behind the embeddings alias. null = same as embeddings_model."
  default     = null
}

variable "gateway_max_concurrency" {
  type        = number
  description = "GATEWAY_MAX_CONCURRENCY: concurrent requests per replica, all projects."
  default     = 64
  nullable    = false

  validation {
    condition     = var.gateway_max_concurrency >= 1
    error_message = "gateway_max_concurrency must be at least 1."
  }
}

variable "gateway_keepalive_seconds" {
  type        = number
  description = "GATEWAY_KEEPALIVE_SECONDS: SSE keepalive interval while a stream waits for Azure (keeps the ingress' idle timeout away)."
  default     = 15
  nullable    = false

  validation {
    condition     = var.gateway_keepalive_seconds >= 1 && var.gateway_keepalive_seconds <= 120
    error_message = "gateway_keepalive_seconds must be between 1 and 120."
  }
}

variable "gateway_extra_settings" {
  type        = map(string)
  description = "Further non-secret GATEWAY_* settings (e.g. GATEWAY_RETRY_ATTEMPTS). Names that look like secrets are refused: secrets only come from Key Vault."
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for k in keys(var.gateway_extra_settings) :
      can(regex("^GATEWAY_[A-Z0-9_]+$", k)) && !can(regex("(KEY|SECRET|SALT|PASSWORD|TOKEN)", k))
    ])
    error_message = "gateway_extra_settings keys must be GATEWAY_* names and must not name a secret (KEY, SECRET, SALT, PASSWORD, TOKEN)."
  }
}

variable "projects" {
  type = map(object({
    rpm            = optional(number, 600)
    max_parallel   = optional(number, 20)
    embeddings_rpm = optional(number, 120)
  }))
  description = <<-EOT
    Downstream projects, name -> limits (GATEWAY_PROJECT_LIMITS). Each project's key is the Key Vault
    secret gateway-key-<name> (created by the secrets script), injected as GATEWAY_KEY_<NAME>.
    - rpm (default 600): requests per minute.
    - max_parallel (default 20): concurrent requests.
    - embeddings_rpm (default 120): embeddings requests per minute.
  EOT
  nullable    = false

  validation {
    condition     = length(var.projects) > 0
    error_message = "projects must name at least one project."
  }

  validation {
    condition     = alltrue([for p in keys(var.projects) : can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", p)) && !can(regex("--", p))])
    error_message = "project names must be 2-40 lower-case letters, digits and single hyphens, starting with a letter (they become Key Vault secret names)."
  }

  validation {
    condition     = alltrue([for p in values(var.projects) : p.rpm >= 1 && p.max_parallel >= 1 && p.embeddings_rpm >= 0])
    error_message = "project limits must be positive (embeddings_rpm may be 0 to forbid embeddings)."
  }
}

# ---------------------------------------------------------------------------------------------------
# Shared rate limits (Redis)
# ---------------------------------------------------------------------------------------------------

variable "shared_limits_enabled" {
  type        = bool
  description = "Provision an Azure Managed Redis (Entra ID auth only, no access keys) and point every replica's per-minute limits at it, so N replicas enforce one limit instead of N. null = on in prod only."
  default     = null
}

variable "shared_limits_redis_sku" {
  type        = string
  description = "Azure Managed Redis SKU for the shared limits (a few hundred small keys: the smallest Balanced size is plenty)."
  default     = "Balanced_B0"
  nullable    = false

  validation {
    condition     = can(regex("^(Balanced|MemoryOptimized|ComputeOptimized|FlashOptimized)_[A-Z][0-9]+$", var.shared_limits_redis_sku))
    error_message = "shared_limits_redis_sku must be an Azure Managed Redis SKU such as Balanced_B0."
  }
}
