# The one root of every environment: infra/env/{dev,uat,prod} link to these files and differ only in
# terraform.tfvars (what makes that environment different) and the state container they are
# initialised with. Validation of every value lives in the module.
module "aigateway" {
  source = "../../modules/aigateway_aca"

  env   = var.env
  image = var.image
  tags  = var.tags

  min_replicas              = var.min_replicas
  max_replicas              = var.max_replicas
  ingress_allowed_ip_ranges = var.ingress_allowed_ip_ranges
  shared_limits_enabled     = var.shared_limits_enabled

  log_analytics_retention_days = var.log_analytics_retention_days
  log_analytics_daily_quota_gb = var.log_analytics_daily_quota_gb
  alert_email_addresses        = var.alert_email_addresses

  azure_openai_endpoint = var.azure_openai_endpoint
  azure_openai_auth     = var.azure_openai_auth
  codex_deployment      = var.codex_deployment
  embeddings_deployment = var.embeddings_deployment

  projects = var.projects
}
