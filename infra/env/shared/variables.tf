# Set per environment in terraform.tfvars, except image (the pipeline's -var). Each is validated by the
# module input of the same name (infra/modules/aigateway_aca/variables.tf), where every default is explained.

variable "env" {
  type        = string
  description = "dev, uat or prod."
}

variable "image" {
  type        = string
  description = "<registry>/aigateway@sha256:<digest>, passed by scripts/deploy.py."
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on every resource."
  default     = {}
}

variable "min_replicas" {
  type        = number
  description = "Minimum replicas; null = 0 outside prod, 1 in prod."
  default     = null
}

variable "max_replicas" {
  type        = number
  description = "Maximum replicas."
  default     = 3
}

variable "ingress_allowed_ip_ranges" {
  type        = list(string)
  description = "CIDR ranges allowed to call the gateway; empty = the internet (keys still required)."
  default     = []
}

variable "shared_limits_enabled" {
  type        = bool
  description = "Managed Redis for limits shared by all replicas; null = on in prod only."
  default     = null
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

variable "alert_email_addresses" {
  type        = list(string)
  description = "Alert e-mail receivers of the action group; empty allowed in dev only (the plan warns)."
  default     = []
}

variable "azure_openai_endpoint" {
  type        = string
  description = "https://<resource>.openai.azure.com."
}

variable "azure_openai_auth" {
  type        = string
  description = "entra (keyless) or key."
  default     = "entra"
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
  type        = any
  description = "Downstream projects, name -> limits ({rpm, max_parallel, embeddings_rpm}, each optional). Each needs the Key Vault secret gateway-key-<name>."
}
