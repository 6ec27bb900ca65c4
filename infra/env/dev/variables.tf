variable "image_digest" {
  type        = string
  description = "Gateway image digest (sha256:<64 hex>) passed by the pipeline with -var. null on the first apply: everything but the Container App is created."
  default     = null

  validation {
    condition     = var.image_digest == null || can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must be null or sha256: followed by 64 lower-case hex digits."
  }
}

variable "env" {
  type        = string
  description = "Environment name (dev, uat, prod); set in terraform.tfvars."
}

variable "location" {
  type        = string
  description = "Azure region."
  default     = "southafricanorth"
}

variable "registry_name_suffix" {
  type        = string
  description = "Suffix making the registry name globally unique."
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on every resource."
  default     = {}
}

variable "min_replicas" {
  type        = number
  description = "Minimum replicas; null = module default (0 outside prod, 1 in prod)."
  default     = null
}

variable "max_replicas" {
  type        = number
  description = "Maximum replicas."
  default     = 3
}

variable "container_cpu" {
  type        = number
  description = "vCPU per replica."
  default     = 0.5
}

variable "container_memory" {
  type        = string
  description = "Memory per replica (2Gi per vCPU)."
  default     = "1Gi"
}

variable "ingress_allowed_ip_ranges" {
  type        = list(string)
  description = "CIDR ranges allowed to call the gateway; empty = internet (keys still required)."
  default     = []
}

variable "key_vault_purge_protection_enabled" {
  type        = bool
  description = "Key Vault purge protection; null = module default (on in prod only)."
  default     = null
}

variable "key_vault_allowed_ip_ranges" {
  type        = list(string)
  description = "CIDR ranges allowed through the Key Vault firewall; empty = open (RBAC still applies)."
  default     = []
}

variable "log_analytics_retention_days" {
  type        = number
  description = "Log Analytics retention in days."
  default     = 30
}

variable "log_analytics_daily_quota_gb" {
  type        = number
  description = "Log Analytics daily cap in GB; -1 = none."
  default     = -1
}

variable "application_insights_enabled" {
  type        = bool
  description = "Create a workspace-based Application Insights."
  default     = false
}

variable "alert_email_addresses" {
  type        = list(string)
  description = "Alert e-mail receivers; empty = no action group."
  default     = []
}

variable "azure_openai_endpoint" {
  type        = string
  description = "Azure OpenAI endpoint https://<resource>.openai.azure.com."
}

variable "azure_openai_auth" {
  type        = string
  description = "entra (keyless, default) or key."
  default     = "entra"
}

variable "azure_openai_resource_id" {
  type        = string
  description = "Resource ID of the Azure OpenAI account (required for entra auth)."
  default     = null
}

variable "codex_deployment" {
  type        = string
  description = "Azure deployment behind the codex alias; null = the alias."
  default     = null
}

variable "embeddings_deployment" {
  type        = string
  description = "Azure deployment behind the embeddings alias; null = the alias."
  default     = null
}

variable "projects" {
  type = map(object({
    rpm            = optional(number, 600)
    max_parallel   = optional(number, 20)
    embeddings_rpm = optional(number, 120)
  }))
  description = "Downstream projects, name -> limits. Each needs the Key Vault secret gateway-key-<name> (secrets script). Always includes smoke."
}
